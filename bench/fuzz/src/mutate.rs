//! Mutations: of bytes (flips, inserts, deletes, splices), of lines (duplicate, drop,
//! swap, re-indent, document markers, comments), and of YAML values and keys (known
//! keys, edge-case scalars, huge and odd strings, Unicode and control characters, deep
//! nesting, anchors, tags). An input is one seed with 1 to 8 of them stacked, mostly 1
//! to 3.

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;

use crate::corpus::KEYS;

/// Scalars that sit on an edge of some rule.
const SCALARS: &[&str] = &[
    "",
    "~",
    "null",
    "yes",
    "no",
    "true",
    "0",
    "-1",
    "65535",
    "65536",
    "2147483648",
    "9223372036854775808",
    "-9223372036854775809",
    "1e309",
    "0x1F",
    "0o17",
    ".inf",
    "-.nan",
    "1.5",
    "010",
    "\"\"",
    "''",
    "{}",
    "[]",
    "[1, [2, [3]]]",
    "{a: {b: {c: d}}}",
    "8080:80/udp",
    "0:0",
    "80/sctp",
    "a:/b:/c:ro",
    "arn:aws:iam::123456789012:role/x",
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x",
    "arn:aws:acm:eu-west-1:123456789012:certificate/x",
    "arn:::::",
    "10m",
    "0s",
    "1h 30m",
    "fargate",
    "ec2",
    "awsvpc",
    "bridge",
    "host",
    "public",
    "private",
    "HTTPS",
    "task",
    "memberOf",
    "distinctInstance",
    "binpack",
    "desired_count",
    "heal",
    "report",
    "*.example.com",
    "/api/*",
    "&anchor value",
    "*alias",
    "!!str tagged",
    "!custom x",
    "|\n  block\n  scalar",
    ">-\n  folded",
    "\"\\e[31mred\\e[0m\"",
    "\"\\u202eevil\"",
    "\"a\\nb\"",
    "\"\\0\"",
    "\"\\x85\"",
    "\"\\uFEFF\"",
    "'it''s'",
    "- dash",
    "key: value",
    "# comment",
    "@reserved",
    "`backtick",
    "%directive",
];

/// Characters a terminal or a parser may take for more than text.
const ODD_CHARS: &[char] = &[
    '\0', '\t', '\n', '\r', '\u{1b}', '\u{7}', '\u{7f}', '\u{85}', '\u{9b}', '\u{a0}', '\u{200b}', '\u{200e}',
    '\u{2028}', '\u{2029}', '\u{202e}', '\u{2066}', '\u{feff}', '\u{fffd}', 'é', 'ß', '名', '🦀', '"', '\'', ':', '#',
    '&', '*', '!', '|', '>', '%', '@', '`', '{', '}', '[', ']', ',', '-', '?', '\\',
];

/// One input: a seed with 1 to 8 mutations stacked.
pub fn input(rng: &mut StdRng, seeds: &[String]) -> String {
    let mut text = seeds.choose(rng).expect("at least one seed").clone();
    // Mostly one to three: more and almost nothing loads, and the planner and the
    // renderer see little.
    for _ in 0..*[1, 1, 1, 1, 2, 2, 3, 4, 6, 8].choose(rng).expect("not empty") {
        text = mutate(rng, text, seeds);
    }
    text
}

fn mutate(rng: &mut StdRng, text: String, seeds: &[String]) -> String {
    match rng.random_range(0..20) {
        0..=3 => bytes(rng, text),
        4..=8 => lines(rng, text),
        9..=14 => value(rng, text),
        15 => key(rng, text),
        16 => nest(rng, text),
        17 => huge(rng, text),
        18 => splice(rng, text, seeds),
        _ => odd_chars(rng, text),
    }
}

/// A byte-level change; the result is made UTF-8 again (the API takes text).
fn bytes(rng: &mut StdRng, text: String) -> String {
    let mut b = text.into_bytes();
    let at = if b.is_empty() { 0 } else { rng.random_range(0..b.len()) };
    match rng.random_range(0..5) {
        0 if !b.is_empty() => b[at] ^= 1 << rng.random_range(0..8),
        1 => b.insert(at, rng.random()),
        2 if !b.is_empty() => {
            let end = (at + rng.random_range(1..64)).min(b.len());
            b.drain(at..end);
        }
        3 if !b.is_empty() => {
            let end = (at + rng.random_range(1..256)).min(b.len());
            let copy = b[at..end].to_vec();
            let to = rng.random_range(0..=b.len());
            b.splice(to..to, copy);
        }
        _ => b.truncate(at),
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// A line-level change.
fn lines(rng: &mut StdRng, text: String) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let i = rng.random_range(0..lines.len());
    match rng.random_range(0..8) {
        0 => {
            let l = lines[i].clone();
            lines.insert(i, l);
        }
        1 => {
            lines.remove(i);
        }
        2 => {
            let j = rng.random_range(0..lines.len());
            lines.swap(i, j);
        }
        3 => lines[i] = format!("  {}", lines[i]),
        4 => lines[i] = lines[i].strip_prefix("  ").unwrap_or(&lines[i]).to_owned(),
        5 => lines.insert(i, ["---", "...", "--- # doc", "%YAML 1.2", "--- |"].choose(rng).unwrap().to_string()),
        6 => lines.insert(i, format!("{}# {}", " ".repeat(rng.random_range(0..8)), "comment")),
        _ => {
            let count = rng.random_range(2..2000);
            let block = lines[i].clone();
            for n in 0..count.min(50_000 / (block.len() + 1)) {
                lines.insert(i, format!("{block}{n}"));
            }
        }
    }
    let mut out = lines.join("\n");
    if rng.random_bool(0.9) {
        out.push('\n');
    }
    out
}

/// The byte range of the value of a random `key: value` line, if there is one.
fn value_span(rng: &mut StdRng, text: &str) -> Option<(usize, usize, String)> {
    let candidates: Vec<(usize, &str)> = text
        .split_inclusive('\n')
        .scan(0, |offset, line| {
            let start = *offset;
            *offset += line.len();
            Some((start, line))
        })
        .filter(|(_, l)| l.contains(": ") && !l.trim_start().starts_with('#'))
        .collect();
    let (start, line) = *candidates.choose(rng)?;
    let colon = line.find(": ")?;
    let indent = line.len() - line.trim_start().len();
    let end = line.trim_end_matches(['\n', '\r']).len();
    Some((start + colon + 2, start + end, " ".repeat(indent + 2)))
}

/// Replace a value with an edge-case scalar, or a collection.
fn value(rng: &mut StdRng, text: String) -> String {
    let Some((start, end, indent)) = value_span(rng, &text) else { return text };
    let new = match rng.random_range(0..4) {
        0 => format!("\n{indent}- {}", SCALARS.choose(rng).unwrap()),
        1 => format!("\n{indent}{}: {}", KEYS.choose(rng).unwrap(), SCALARS.choose(rng).unwrap()),
        _ => SCALARS.choose(rng).unwrap().replace('\n', &format!("\n{indent}")),
    };
    format!("{}{new}{}", &text[..start], &text[end..])
}

/// Add a known (or misspelt) key next to a random line.
fn key(rng: &mut StdRng, text: String) -> String {
    let Some((start, _, indent)) = value_span(rng, &text) else { return text };
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let own_indent = indent.len().saturating_sub(2);
    let mut k = KEYS.choose(rng).unwrap().to_string();
    if rng.random_bool(0.2) {
        k.insert(rng.random_range(0..k.len()), 'x');
    }
    let line = format!("{}{k}: {}\n", " ".repeat(own_indent), SCALARS.choose(rng).unwrap());
    format!("{}{line}{}", &text[..line_start], &text[line_start..])
}

/// A deeply nested value: flow or block, sequences or mappings.
fn nest(rng: &mut StdRng, text: String) -> String {
    let Some((start, end, indent)) = value_span(rng, &text) else { return text };
    let depth = rng.random_range(10..400);
    let new = match rng.random_range(0..3) {
        0 => format!("{}x{}", "[".repeat(depth), "]".repeat(depth)),
        1 => format!("{}x{}", "{a: ".repeat(depth), "}".repeat(depth)),
        _ => {
            let mut s = String::new();
            for d in 0..depth.min(120) {
                s.push('\n');
                s.push_str(&indent);
                s.push_str(&" ".repeat(2 * d));
                s.push_str("- ");
            }
            s.push('x');
            s
        }
    };
    format!("{}{new}{}", &text[..start], &text[end..])
}

/// A huge value: a long string, up to a little over the 1 MiB limit.
fn huge(rng: &mut StdRng, text: String) -> String {
    let Some((start, end, _)) = value_span(rng, &text) else { return text };
    // Over the field limits often, over the task definition's 64 KiB now and then, over
    // the 1 MiB stackfile rarely: a large input is slow to make and to parse.
    let len = match rng.random_range(0..100) {
        0..70 => rng.random_range(100..400),
        70..90 => rng.random_range(2_000..70_000),
        90..97 => rng.random_range(100_000..600_000),
        _ => rng.random_range(1_000_000..1_100_000),
    };
    let c = *ODD_CHARS.choose(rng).unwrap();
    let fill = if rng.random_bool(0.7) { "x".repeat(len) } else { c.to_string().repeat(len / c.len_utf8().max(1)) };
    let fill = if rng.random_bool(0.5) { format!("\"{}\"", fill.replace(['"', '\\'], "x")) } else { fill };
    format!("{}{fill}{}", &text[..start], &text[end..])
}

/// Half of one seed and half of another.
fn splice(rng: &mut StdRng, text: String, seeds: &[String]) -> String {
    let other = seeds.choose(rng).unwrap();
    let cut = |s: &str, at: usize| s.char_indices().map(|(i, _)| i).find(|i| *i >= at).unwrap_or(s.len());
    let a = cut(&text, rng.random_range(0..=text.len()));
    let b = cut(other, rng.random_range(0..=other.len()));
    format!("{}{}", &text[..a], &other[b..])
}

/// Control, invisible, non-ASCII and YAML-special characters, anywhere.
fn odd_chars(rng: &mut StdRng, text: String) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..rng.random_range(1..6) {
        let at = rng.random_range(0..=chars.len());
        chars.insert(at, *ODD_CHARS.choose(rng).unwrap());
    }
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng as _;

    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_inputs() {
        let seeds = crate::corpus::seeds();
        let a: Vec<String> = (0..50).map(|_| input(&mut StdRng::seed_from_u64(7), &seeds)).collect();
        let b: Vec<String> = (0..50).map(|_| input(&mut StdRng::seed_from_u64(7), &seeds)).collect();
        assert_eq!(a, b);
        let mut rng = StdRng::seed_from_u64(7);
        let c: Vec<String> = (0..50).map(|_| input(&mut rng, &seeds)).collect();
        assert!(c.windows(2).any(|w| w[0] != w[1]));
    }
}
