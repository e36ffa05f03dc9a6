//! Strict input at the command line: `bosun validate` exits 1, with `FILE:LINE:COL`
//! diagnostics, for every stackfile the reliability pass refuses (issue 10), and what
//! it prints is printable whatever the file held. Also the exit code of a command line
//! that does not parse. No AWS: these run the binary alone.

use std::process::Command;

use bosun_tests::bosun_binary;

/// `bosun ARGS` in `dir`, with no AWS configured: (exit code, stdout, stderr).
fn bosun(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bosun_binary())
        .args(args)
        .current_dir(dir)
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("run bosun");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn validate_exits_1_with_located_errors_for_every_refused_stackfile() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let many: String = (0..1001).map(|i| format!("  - s{i}:\n      image: nginx:1.27\n")).collect();
    let cases: [(&str, String, &str); 7] = [
        ("empty.yml", String::new(), "1:1: : the stackfile is empty"),
        ("comments.yml", "# prod\n# (todo)\n".into(), "1:1: : the stackfile is empty"),
        (
            "two-documents.yml",
            "services:\n  - web:\n      image: nginx:1.27\n---\nservices: [\n".into(),
            "4:1: : a second YAML document starts here",
        ),
        (
            "forged-image.yml",
            "services:\n  - web:\n      image: \"nginx:1.27\\n+ service evil\\e[2K\"\n".into(),
            "3:14: services[0].web.image: contains a line break",
        ),
        (
            "huge-image.yml",
            format!("services:\n  - web:\n      image: nginx:{}\n", "1".repeat(1 << 20)),
            "1:1: : the stackfile is 1,048,615 bytes; the limit is 1,048,576 bytes (1 MiB)",
        ),
        (
            "long-image.yml",
            format!("services:\n  - web:\n      image: nginx:{}\n", "1".repeat(400)),
            "3:14: services[0].web.image: is 406 characters long; the limit is 327",
        ),
        ("many.yml", format!("services:\n{many}"), "2:5: services: 1,001 items; the limit is 1,000"),
    ];
    for (file, text, expected) in &cases {
        std::fs::write(dir.path().join(file), text).expect("write the stackfile");
        let (code, _, stderr) = bosun(dir.path(), &["validate", file]);
        assert_eq!(code, 1, "{file}: {stderr}");
        assert!(stderr.contains(&format!("{file}:{expected}")), "{file}: no `{expected}` in:\n{stderr}");
        assert!(!stderr.chars().any(|c| c.is_control() && c != '\n'), "{file}: unprintable output: {stderr:?}");
        assert!(stderr.len() < 4096, "{file}: the value is not echoed: {} bytes", stderr.len());
    }
}

#[test]
fn a_command_line_that_does_not_parse_exits_1_not_the_changes_code() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (code, _, stderr) = bosun(dir.path(), &["plan", "--cluster", "demo", "-f", "x.yml", "--no-such-flag"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("--no-such-flag"), "{stderr}");
    let (code, stdout, _) = bosun(dir.path(), &["plan", "--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("--detailed-exitcode"), "{stdout}");
}
