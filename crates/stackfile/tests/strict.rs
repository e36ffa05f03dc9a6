//! Strict input: what AWS would refuse, or what would let a stackfile read differently
//! from what it is, is refused with its path, line and column, and the limit named.
//! Each case here was accepted before the reliability pass (issue 10).

use bosun_stackfile::limits::{MAX_SERVICES, MAX_STACKFILE_BYTES, thousands};
use bosun_stackfile::{Diagnostic, load, validate};

/// The diagnostics of a stackfile that must not validate; `validate` and `load` agree.
fn refused(source: &str) -> Vec<Diagnostic> {
    let diags = validate(source).expect_err("the stackfile must be refused").0;
    let loaded = load(source, "prod").expect_err("load must refuse what validate refuses").0;
    for d in &diags {
        // The same place; a message may name the cluster (or count its characters).
        let at = |e: &Diagnostic| (e.path.clone(), e.line, e.column);
        assert!(loaded.iter().any(|e| at(e) == at(d)), "load lost {d}: {loaded:?}");
    }
    diags
}

/// The one diagnostic of a stackfile with exactly one problem.
fn one(source: &str) -> Diagnostic {
    let diags = refused(source);
    assert_eq!(diags.len(), 1, "{diags:?}");
    diags.into_iter().next().unwrap()
}

fn web(body: &str) -> String {
    format!("services:\n  - web:\n      image: nginx:1.27\n{body}")
}

#[test]
fn an_empty_or_comment_only_stackfile_is_refused() {
    for source in ["", "\n\n", "   \n", "# nothing here\n# at all\n", "---\n", "---\n# only a comment\n...\n"] {
        let d = one(source);
        assert_eq!((d.line, d.column, d.path.as_str()), (1, 1, ""), "{source:?}: {d}");
        assert!(d.message.starts_with("the stackfile is empty"), "{source:?}: {d}");
    }
    // An explicit empty stackfile is written on purpose, and stays valid.
    validate("{}\n").unwrap();
    validate("services: []\n").unwrap();
}

#[test]
fn a_second_yaml_document_is_refused_even_when_valid() {
    let first = "services:\n  - web:\n      image: nginx:1.27\n";
    for (second, line, column) in [
        ("---\nservices:\n  - api:\n      image: nginx:1.27\n", 4, 1),
        // Broken: the loader never read it before.
        ("---\nservices: [\n", 4, 1),
        ("---\n", 4, 1),
        ("...\nprune: true\n", 5, 1),
    ] {
        let d = one(&format!("{first}{second}"));
        assert_eq!((d.line, d.column), (line, column), "{second:?}: {d}");
        assert!(d.message.starts_with("a second YAML document starts here"), "{d}");
    }
    // One explicit document, with its markers, is one document.
    validate(&format!("---\n{first}...\n")).unwrap();
    // `---` inside a value is text, not a marker.
    validate(&web("      environment:\n        NOTE: \"a --- b\"\n")).unwrap();
}

#[test]
fn control_characters_in_one_line_fields_are_refused() {
    for (field, value) in [
        ("image", r#""nginx:1.27\n+ service evil""#),
        ("image", r#""nginx:1.27\r""#),
        ("image", r#""nginx\u001b[2K:1.27""#),
        ("image", r#""nginx:1.27\u202e""#),
        ("image", r#""nginx\t:1.27""#),
        ("task_role_arn", r#""arn:aws:iam::123456789012:role/app\n""#),
    ] {
        let image = if field == "image" { "" } else { "      image: nginx:1.27\n" };
        let d = one(&format!("services:\n  - web:\n{image}      {field}: {value}\n"));
        assert_eq!(d.path, format!("services[0].web.{field}"), "{value}: {d}");
        assert_eq!((d.line, d.column), (if field == "image" { 3 } else { 4 }, field.len() + 9), "{value}: {d}");
        assert!(d.message.starts_with("contains "), "{d}");
        assert!(d.message.contains("(this field is one line)"), "{d}");
        assert!(!d.to_string().chars().any(char::is_control), "a diagnostic is printable: {d:?}");
    }
    // Names and hook names and DNS records too.
    let d =
        one(&web("      hooks:\n        pre:\n          - name: \"migrate\\n+ service x\"\n            command: x\n"));
    assert_eq!(d.path, "services[0].web.hooks.pre[0].name");
    let diags = refused(&format!(
        "vpc: {{id: vpc-1}}\n{}",
        web(
            "      elb:\n        type: public\n        ports: {public: 80, container: 80}\n        dns: {hosted_zone_id: Z1, record_name: \"a.example.com\\u0000\"}\n      ports: [80]\n"
        )
    ));
    let d = diags.iter().find(|d| d.path == "services[0].web.elb.dns.record_name").expect("the record name");
    assert!(d.message.starts_with("contains the control character U+0000"), "{d}");
}

#[test]
fn keys_with_control_characters_are_refused_at_an_escaped_path() {
    let d = one("services:\n  - \"web\\e[31m\":\n      image: nginx:1.27\n");
    assert_eq!((d.line, d.column), (2, 5), "{d}");
    assert_eq!(d.path, r#"services[0]."web\u{1b}[31m""#);
    assert!(d.message.starts_with("a key that contains the control character U+001B"), "{d}");
    let d = one(&web("      environment:\n        \"A\\u2066B\": x\n"));
    assert!(d.message.contains("invisible formatting character U+2066"), "{d}");
}

#[test]
fn environment_values_and_commands_may_span_lines() {
    let source = web(concat!(
        "      environment:\n",
        "        TLS_KEY: |\n",
        "          -----BEGIN PRIVATE KEY-----\n",
        "          \tabc\n",
        "          -----END PRIVATE KEY-----\n",
        "      healthcheck:\n",
        "        command: |\n",
        "          curl -f http://localhost/ ||\n",
        "            exit 1\n",
        "      hooks:\n",
        "        pre:\n",
        "          - name: migrate\n",
        "            command: [sh, -c, \"set -e\\nbin/migrate\\nbin/seed\"]\n",
    ));
    let desired = load(&source, "prod").unwrap_or_else(|d| panic!("{d}"));
    let web = &desired.services["web"];
    assert!(web.task_definition.container.environment["TLS_KEY"].contains("\n\tabc\n"));
    assert_eq!(web.hooks.pre[0].command[2], "set -e\nbin/migrate\nbin/seed");
    // But not other control characters: an escape sequence is not text.
    let d = one(&web_with_env("\"a\\e[2Jb\""));
    assert_eq!(d.path, "services[0].web.environment.A");
    assert!(d.message.contains("U+001B"), "{d}");
    assert!(!d.message.contains("one line"), "{d}");
}

fn web_with_env(value: &str) -> String {
    web(&format!("      environment:\n        A: {value}\n"))
}

#[test]
fn strings_over_their_aws_limit_are_refused_naming_the_limit() {
    // A 1 MB image: ECS allows 255 characters (327 with an `@sha256:` digest).
    let d = one(&format!("services:\n  - web:\n      image: nginx:{}\n", "1".repeat(1_000_000)));
    assert_eq!((d.path.as_str(), d.line, d.column), ("services[0].web.image", 3, 14));
    assert_eq!(d.message, "is 1,000,006 characters long; the limit is 327");
    let d = one(&format!("services:\n  - web:\n      image: {}:1\n", "a".repeat(300)));
    assert!(d.message.contains("ECS allows at most 255 (before an `@sha256:` digest)"), "{d}");
    let digest = format!("{}@sha256:{}", "a".repeat(255), "0".repeat(64));
    load(&format!("services:\n  - web:\n      image: {digest}\n"), "prod").unwrap();

    for (body, path, limit) in [
        (format!("      task_role_arn: arn:aws:iam::123456789012:role/{}\n", "r".repeat(2048)), "task_role_arn", 2048),
        (
            format!(
                "      placement_constraints:\n        - type: memberOf\n          expression: \"{}\"\n",
                "x".repeat(2001)
            ),
            "placement_constraints[0].expression",
            2000,
        ),
        (
            format!(
                "      routing: {{load_balancer: main, hosts: [\"{}.example.com\"], priority: 1}}\n",
                "h".repeat(120)
            ),
            "routing.hosts[0]",
            128,
        ),
        (format!("      environment:\n        A: \"{}\"\n", "v".repeat(65_537)), "environment.A", 65_536),
    ] {
        let diags = refused(&web(&body));
        let d =
            diags.iter().find(|d| d.path == format!("services[0].web.{path}")).unwrap_or_else(|| panic!("{diags:?}"));
        assert!(d.message.ends_with(&format!("the limit is {}", thousands(limit))), "{d}");
    }
}

#[test]
fn keys_over_255_characters_are_refused() {
    let d = one(&web(&format!("      environment:\n        {}: x\n", "K".repeat(256))));
    assert!(d.message.starts_with("a key of 256 characters; the limit is 255"), "{d}");
    // The path names the key shortened.
    assert!(d.path.len() < 100, "{d}");
}

#[test]
fn too_many_services_are_refused_before_they_are_walked() {
    let mut source = String::from("services:\n");
    for i in 0..=MAX_SERVICES {
        source.push_str(&format!("  - s{i}:\n      image: nginx:1.27\n"));
    }
    let d = one(&source);
    assert_eq!((d.path.as_str(), d.line, d.column), ("services", 2, 5));
    assert_eq!(d.message, "1,001 items; the limit is 1,000");
    // The mapping dialect too.
    let mut source = String::from("version: 1\nservices:\n");
    for i in 0..=MAX_SERVICES {
        source.push_str(&format!("  s{i}: {{image: nginx:1.27}}\n"));
    }
    assert_eq!(one(&source).message, "1,001 entries; the limit is 1,000");
    // Exactly the limit loads.
    let mut source = String::from("services:\n");
    for i in 0..MAX_SERVICES {
        source.push_str(&format!("  - s{i}:\n      image: nginx:1.27\n"));
    }
    assert_eq!(load(&source, "prod").unwrap().services.len(), MAX_SERVICES);
}

#[test]
fn a_stackfile_over_one_mebibyte_is_refused_unread() {
    let source = format!("services: []\n# {}\n", "x".repeat(MAX_STACKFILE_BYTES));
    let d = one(&source);
    assert_eq!((d.line, d.column), (1, 1));
    assert_eq!(d.message, "the stackfile is 1,048,592 bytes; the limit is 1,048,576 bytes (1 MiB)");
}

#[test]
fn a_task_definition_over_64_kib_is_refused() {
    let mut body = String::from("      environment:\n");
    for i in 0..3 {
        body.push_str(&format!("        V{i}: \"{}\"\n", "v".repeat(30_000)));
    }
    let d = one(&web(&body));
    assert_eq!((d.path.as_str(), d.line, d.column), ("services[0].web", 2, 5));
    assert!(d.message.starts_with("the task definition is 90,"), "{d}");
    assert!(d.message.contains("the ECS limit is 65,536 bytes (64 KiB)"), "{d}");
}

#[test]
fn a_hook_command_over_the_runtask_override_limit_is_refused() {
    let d = one(&web(&format!(
        "      hooks:\n        post:\n          - name: big\n            command: \"{}\"\n",
        "x".repeat(8200)
    )));
    assert_eq!(d.path, "services[0].web.hooks.post[0].command");
    assert!(d.message.contains("ECS allows 8,192 for overrides"), "{d}");
}

#[test]
fn lists_over_their_aws_limit_are_refused() {
    let sgs = (0..6).map(|i| format!("sg-{i}")).collect::<Vec<_>>().join(", ");
    let d = one(&format!("vpc:\n  security_groups:\n    private: [{sgs}]\nservices: []\n"));
    assert_eq!(d.path, "vpc.security_groups.private");
    assert!(d.message.contains("AWS allows at most 5"), "{d}");
    let subnets = (0..17).map(|i| format!("subnet-{i}")).collect::<Vec<_>>().join(", ");
    let d = one(&format!("vpc:\n  subnets:\n    private: [{subnets}]\nservices: []\n"));
    assert_eq!((d.path.as_str(), d.message.as_str()), ("vpc.subnets.private", "17 items; the limit is 16"));
    let strategies = "      placement_strategy:\n".to_string() + &"        - type: random\n".repeat(6);
    assert_eq!(one(&web(&strategies)).message, "6 items; the limit is 5");
}

#[test]
fn a_family_over_255_characters_is_refused_once_the_cluster_is_known() {
    let source = format!("services:\n  - {}:\n      image: nginx:1.27\n", "s".repeat(200));
    validate(&source).unwrap();
    let err = load(&source, &"c".repeat(60)).unwrap_err();
    assert_eq!(err.len(), 1, "{err}");
    assert!(err.0[0].message.contains("is 261 characters; ECS allows at most 255"), "{err}");
}

#[test]
fn a_huge_enum_value_is_refused_without_a_suggestion() {
    // Found by the fuzzer (seed 20261201, input 4198): "did you mean" on a 354 KB
    // value took seconds; it is refused, quoted short, with no suggestion.
    let d = one(&web(&format!("      type: \"{}\"\n", "x".repeat(354_000))));
    assert_eq!(d.path, "services[0].web.type");
    assert!(d.message.starts_with("expected one of `service`, `task`, found string \"xxxx"), "{d}");
    assert!(!d.message.contains("did you mean") && d.message.len() < 200, "{d}");
}

#[test]
fn values_are_never_echoed_raw_in_diagnostics() {
    // An enum value with an escape sequence and a megabyte of text: quoted, escaped, cut.
    let source =
        format!("services:\n  - web:\n      image: nginx\n      launch_type: \"\\e[31m{}\"\n", "f".repeat(60_000));
    let d = one(&source);
    assert!(d.message.len() < 300, "{}", d.message.len());
    assert!(d.message.contains(r"\u{1b}[31m"), "{d}");
}
