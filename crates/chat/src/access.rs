//! The chat access file: which chat user has which role on which clusters, and the
//! channels commands are taken in.
//!
//! One grant per line, `ROLE USER_ID CLUSTER_GLOB...`, in the spirit of the API's tokens
//! file:
//!
//! ```text
//! # who may do what from chat
//! admin    U012ABCDEF *
//! deployer U024BE7LH  staging-* demo   # the release crew
//! viewer   U0G9QF9C6  *
//! channels C0123ABC C0456DEF
//! ```
//!
//! - `ROLE` is `viewer`, `deployer` or `admin`, each including the ones before it. A
//!   user's role on a cluster is the highest of their grants whose globs match it.
//! - `USER_ID` is the platform's user id (Slack's `U024BE7LH`): 1-64 letters, digits,
//!   `.`, `_`, `@` and `-`.
//! - A `CLUSTER_GLOB` is a cluster name in which `*` matches any run of characters and
//!   `?` any one character.
//! - `channels ID...` lines (they add up) restrict commands to these channels; with
//!   none, every channel is allowed.
//! - `#` starts a comment, on a line of its own or after a grant; blank lines are
//!   ignored.
//!
//! [`Access::parse`] reports every bad line, each with its line and column.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::grammar::Command;

/// The largest access file read, in bytes.
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// The most lines an access file may have.
pub const MAX_LINES: usize = 10_000;
/// The longest user id.
const MAX_USER_ID: usize = 64;
/// The longest channel id (Teams' `19:...@thread.tacv2` ids are the longest known).
const MAX_CHANNEL_ID: usize = 128;
/// The longest cluster glob: an ECS cluster name is at most 255 characters.
const MAX_GLOB: usize = 255;

/// What a chat user may do on a cluster: the API's roles. Each includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// status, plan, history.
    Viewer,
    /// deploy, scale, rollback, approve.
    Deployer,
    /// lock, unlock.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Deployer, Role::Admin];

    /// The role's name in the access file and in replies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Deployer => "deployer",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|r| r.as_str() == s).ok_or(())
    }
}

impl Command {
    /// The role the command needs on its cluster; `None` for `help` and `clusters`,
    /// which any known user may run (`clusters` lists only what they can see, with
    /// [`Access::clusters_visible`]).
    ///
    /// Listing a service's tags (`deploy CLUSTER SVC`) only reads, so a viewer may; the
    /// tag buttons it shows run a deploy, which needs a deployer. Approving a proposal
    /// is no command: it needs [`Role::Deployer`] too.
    pub fn required_role(&self) -> Option<Role> {
        match self {
            Command::Help | Command::HelpOn { .. } | Command::Clusters => None,
            Command::Status { .. } | Command::History { .. } | Command::Plan { .. } | Command::Tags { .. } => {
                Some(Role::Viewer)
            }
            Command::Deploy { .. } | Command::Scale { .. } | Command::Rollback { .. } => Some(Role::Deployer),
            Command::Lock { .. } | Command::Unlock { .. } => Some(Role::Admin),
        }
    }
}

/// One grant: a role for a user on the clusters its globs match.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Grant {
    role: Role,
    user: String,
    globs: Vec<String>,
}

/// The parsed access file.
///
/// The default grants nothing and allows every channel: no chat user may do anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    grants: Vec<Grant>,
    /// The channel allow-list; `None` when the file has no `channels` line, so that an
    /// access file without one takes commands everywhere, as it says.
    channels: Option<BTreeSet<String>>,
}

/// A bad line of an access file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters, of the field that is wrong.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for AccessError {}

impl Access {
    /// Parse an access file, reporting every bad line.
    pub fn parse(text: &str) -> Result<Self, Vec<AccessError>> {
        if text.len() > MAX_FILE_BYTES {
            return Err(vec![AccessError {
                line: 1,
                column: 1,
                message: format!("the file is larger than {} MiB", MAX_FILE_BYTES >> 20),
            }]);
        }
        // A byte order mark, as some Windows editors save one, is no part of the first role.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut access = Self::default();
        let mut errors = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let number = i + 1;
            if number > MAX_LINES {
                errors.push(AccessError {
                    line: number,
                    column: 1,
                    message: format!("the file has more than {MAX_LINES} lines"),
                });
                break;
            }
            let line = line.split_once('#').map_or(line, |(before, _comment)| before);
            let fields = fields(line);
            let Some(&(first, _)) = fields.first() else { continue };
            let mut error = |column: usize, message: String| {
                errors.push(AccessError { line: number, column, message });
            };
            if first == "channels" {
                access.parse_channels(&fields, line, &mut error);
            } else {
                access.parse_grant(&fields, line, &mut error);
            }
        }
        if errors.is_empty() { Ok(access) } else { Err(errors) }
    }

    fn parse_channels(&mut self, fields: &[(&str, usize)], line: &str, error: &mut impl FnMut(usize, String)) {
        if fields.len() == 1 {
            error(end_column(line), "a `channels` line needs at least one channel id".to_owned());
            return;
        }
        let channels = self.channels.get_or_insert_with(BTreeSet::new);
        for &(id, column) in &fields[1..] {
            match check_id(id, MAX_CHANNEL_ID, |c| is_user_id_char(c) || c == ':') {
                Ok(()) => {
                    channels.insert(id.to_owned());
                }
                Err(problem) => error(
                    column,
                    format!(
                        "channel id {}: use 1-{MAX_CHANNEL_ID} letters, digits, `.`, `_`, `@`, `:` and `-`",
                        problem
                    ),
                ),
            }
        }
    }

    fn parse_grant(&mut self, fields: &[(&str, usize)], line: &str, error: &mut impl FnMut(usize, String)) {
        let (role_word, role_column) = fields[0];
        let role = role_word.parse::<Role>();
        if role.is_err() {
            let hint = match crate::grammar::did_you_mean(role_word, ["viewer", "deployer", "admin", "channels"]) {
                Some(word) => format!(" (did you mean `{word}`?)"),
                None => String::new(),
            };
            error(
                role_column,
                format!(
                    "unknown role {}{hint}: a line is `ROLE USER_ID CLUSTER_GLOB...` with ROLE viewer, deployer or \
                     admin, or `channels CHANNEL_ID...`",
                    crate::grammar::quote(role_word),
                ),
            );
        }
        let Some(&(user, user_column)) = fields.get(1) else {
            error(end_column(line), "expected a user id after the role: `ROLE USER_ID CLUSTER_GLOB...`".to_owned());
            return;
        };
        let user_ok = check_id(user, MAX_USER_ID, is_user_id_char).map_err(|problem| {
            error(
                user_column,
                format!("user id {problem}: use 1-{MAX_USER_ID} letters, digits, `.`, `_`, `@` and `-`"),
            );
        });
        if fields.len() == 2 {
            error(
                end_column(line),
                "no cluster glob: a grant is `ROLE USER_ID CLUSTER_GLOB...` (`*` for every cluster)".to_owned(),
            );
            return;
        }
        let mut globs = Vec::with_capacity(fields.len() - 2);
        let mut globs_ok = true;
        for &(glob, column) in &fields[2..] {
            match check_glob(glob) {
                Ok(()) => globs.push(glob.to_owned()),
                Err((offset, message)) => {
                    globs_ok = false;
                    error(column + offset, message);
                }
            }
        }
        if let (Ok(role), Ok(()), true) = (role, user_ok, globs_ok) {
            self.grants.push(Grant { role, user: user.to_owned(), globs });
        }
    }

    /// The highest role `user` has on `cluster`; `None`: no grant.
    pub fn role(&self, user: &str, cluster: &str) -> Option<Role> {
        self.grants
            .iter()
            .filter(|g| g.user == user && g.globs.iter().any(|glob| glob_matches(glob, cluster)))
            .map(|g| g.role)
            .max()
    }

    /// Whether `user` has any grant at all: an unknown user gets a polite refusal.
    pub fn knows(&self, user: &str) -> bool {
        self.grants.iter().any(|g| g.user == user)
    }

    /// Whether commands are taken in `channel`.
    pub fn channel_allowed(&self, channel: &str) -> bool {
        self.channels.as_ref().is_none_or(|channels| channels.contains(channel))
    }

    /// The clusters of `clusters` on which `user` has any role, in the order given.
    pub fn clusters_visible(&self, user: &str, clusters: &[String]) -> Vec<String> {
        clusters.iter().filter(|c| self.role(user, c).is_some()).cloned().collect()
    }

    /// Number of grants.
    pub fn len(&self) -> usize {
        self.grants.len()
    }

    /// Whether there are no grants (nobody may do anything from chat).
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }

    /// Whether a `channels` line restricts where commands are taken.
    pub fn restricts_channels(&self) -> bool {
        self.channels.is_some()
    }
}

/// The whitespace-separated fields of a line, each with its 1-based character column.
fn fields(line: &str) -> Vec<(&str, usize)> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None;
    let mut column = 0;
    for (at, c) in line.char_indices() {
        column += 1;
        match (c.is_whitespace(), start) {
            (true, Some((from, col))) => {
                out.push((&line[from..at], col));
                start = None;
            }
            (false, None) => start = Some((at, column)),
            _ => {}
        }
    }
    if let Some((from, col)) = start {
        out.push((&line[from..], col));
    }
    out
}

/// The column just after a line's last field: where a missing field goes.
fn end_column(line: &str) -> usize {
    line.trim_end().chars().count() + 2
}

fn is_user_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-')
}

/// Checks an id's length and characters; the problem, when there is one, starts with
/// the quoted id.
fn check_id(id: &str, max: usize, allowed: impl Fn(char) -> bool) -> Result<(), String> {
    let quoted = crate::grammar::quote(id);
    if id.chars().count() > max {
        return Err(format!("{quoted} is longer than {max} characters"));
    }
    match id.chars().find(|c| !allowed(*c)) {
        Some(c) => Err(format!("{quoted} has {}", crate::grammar::quote(&c.to_string()))),
        None => Ok(()),
    }
}

/// Checks a cluster glob; the error's offset is the column of the bad character within it.
fn check_glob(glob: &str) -> Result<(), (usize, String)> {
    if glob.chars().count() > MAX_GLOB {
        return Err((0, format!("cluster glob is longer than {MAX_GLOB} characters")));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*' | '?');
    match glob.chars().position(|c| !allowed(c)) {
        Some(at) => {
            let c = glob.chars().nth(at).expect("the position is in the glob");
            Err((
                at,
                format!(
                    "cluster glob {} has {}: use letters, digits, hyphens, underscores, `*` and `?`",
                    crate::grammar::quote(glob),
                    crate::grammar::quote(&c.to_string())
                ),
            ))
        }
        None => Ok(()),
    }
}

/// Whether `glob` matches all of `name`: `*` any run of characters (none included), `?`
/// exactly one. Greedy with one backtrack point, so time is at most the product of the
/// lengths.
fn glob_matches(glob: &str, name: &str) -> bool {
    let (glob, name): (Vec<char>, Vec<char>) = (glob.chars().collect(), name.chars().collect());
    let (mut g, mut n) = (0, 0);
    // The last `*` seen, and the position in `name` it was tried against.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match glob.get(g) {
            Some('*') => {
                star = Some((g, n));
                g += 1;
            }
            Some(&c) if c == '?' || c == name[n] => {
                g += 1;
                n += 1;
            }
            _ => match star {
                // Let the last `*` take one more character, and go on after it.
                Some((star_g, star_n)) => {
                    star = Some((star_g, star_n + 1));
                    g = star_g + 1;
                    n = star_n + 1;
                }
                None => return false,
            },
        }
    }
    glob[g..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# who may do what from chat
admin    UADMIN  *
deployer U024BE7LH  staging-* demo   # the release crew
viewer   U024BE7LH  *
viewer   bob@example.com prod-?? # another platform's ids

";

    #[test]
    fn roles_are_ordered_and_named() {
        assert!(Role::Viewer < Role::Deployer && Role::Deployer < Role::Admin);
        for role in Role::ALL {
            assert_eq!(role.to_string().parse::<Role>(), Ok(role));
        }
        assert!("Admin".parse::<Role>().is_err());
    }

    #[test]
    fn the_highest_matching_grant_wins() {
        let access = Access::parse(FILE).unwrap();
        assert_eq!(access.len(), 4);
        assert_eq!(access.role("U024BE7LH", "staging-eu"), Some(Role::Deployer));
        assert_eq!(access.role("U024BE7LH", "demo"), Some(Role::Deployer));
        // `viewer ... *` is the only grant that matches prod.
        assert_eq!(access.role("U024BE7LH", "prod"), Some(Role::Viewer));
        assert_eq!(access.role("UADMIN", "anything"), Some(Role::Admin));
        assert_eq!(access.role("bob@example.com", "prod-eu"), Some(Role::Viewer));
        assert_eq!(access.role("bob@example.com", "prod-eu1"), None);
        assert_eq!(access.role("bob@example.com", "prod"), None);
        // User ids are exact.
        assert_eq!(access.role("u024be7lh", "demo"), None);
        assert_eq!(access.role("nobody", "demo"), None);
    }

    #[test]
    fn knows_users_with_any_grant() {
        let access = Access::parse(FILE).unwrap();
        assert!(access.knows("U024BE7LH"));
        assert!(access.knows("bob@example.com"));
        assert!(!access.knows("U999"));
        assert!(!access.knows(""));
        let empty = Access::parse("# nobody yet\n\n").unwrap();
        assert!(empty.is_empty() && !empty.knows("UADMIN") && empty.role("UADMIN", "demo").is_none());
        assert!(!Access::default().knows("UADMIN"));
    }

    #[test]
    fn clusters_visible_keeps_the_order_given() {
        let access = Access::parse(FILE).unwrap();
        let clusters: Vec<String> = ["prod", "demo", "staging-eu", "prod-us"].map(String::from).to_vec();
        assert_eq!(access.clusters_visible("bob@example.com", &clusters), ["prod-us"]);
        assert_eq!(access.clusters_visible("U024BE7LH", &clusters), clusters);
        assert!(access.clusters_visible("nobody", &clusters).is_empty());
    }

    #[test]
    fn channels_add_up_and_default_to_all() {
        let open = Access::parse(FILE).unwrap();
        assert!(!open.restricts_channels());
        assert!(open.channel_allowed("C0123") && open.channel_allowed("anything"));

        let closed =
            Access::parse("channels C0123 C0456\nviewer U1 *\n  channels   19:abc@thread.tacv2 # teams\n").unwrap();
        assert!(closed.restricts_channels());
        for ok in ["C0123", "C0456", "19:abc@thread.tacv2"] {
            assert!(closed.channel_allowed(ok), "{ok}");
        }
        assert!(!closed.channel_allowed("C0789"));
        assert!(!closed.channel_allowed("c0123"));
        assert!(!closed.channel_allowed(""));
        assert_eq!(closed.role("U1", "x"), Some(Role::Viewer));
    }

    #[test]
    fn globs() {
        let cases = [
            ("*", "anything", true),
            ("*", "", true),
            ("demo", "demo", true),
            ("demo", "demo2", false),
            ("demo", "dem", false),
            ("staging-*", "staging-", true),
            ("staging-*", "staging-eu-1", true),
            ("staging-*", "staging", false),
            ("*-eu", "prod-eu", true),
            ("*-eu", "prod-eu-1", false),
            ("*-eu-*", "a-eu-b-eu-c", true),
            ("p?od", "prod", true),
            ("p?od", "pod", false),
            ("??", "ab", true),
            ("??", "abc", false),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("**", "x", true),
            ("a*", "b", false),
        ];
        for (glob, name, want) in cases {
            assert_eq!(glob_matches(glob, name), want, "{glob} ~ {name}");
        }
        // Many stars against a long name that fails only at its end stays quick.
        let glob = format!("{}b", "a*".repeat(100));
        assert!(!glob_matches(&glob, &"a".repeat(255)));
    }

    #[test]
    fn reports_every_bad_line_with_its_column() {
        let text = "\
deploer U1 demo
viewer U1
viewer
admin U/1 demo
viewer U1 demo prod.eu
channels
viewer U1 *  # fine
superuser U1 *
";
        let errors = Access::parse(text).unwrap_err();
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 7, "{shown:#?}");
        assert!(shown[0].starts_with("1:1: unknown role `deploer` (did you mean `deployer`?)"), "{}", shown[0]);
        assert!(shown[1].starts_with("2:11: no cluster glob"), "{}", shown[1]);
        assert!(shown[2].starts_with("3:8: expected a user id"), "{}", shown[2]);
        assert!(shown[3].starts_with("4:7: user id `U/1` has `/`"), "{}", shown[3]);
        assert!(shown[4].starts_with("5:20: cluster glob `prod.eu` has `.`"), "{}", shown[4]);
        assert_eq!(shown[5], "6:10: a `channels` line needs at least one channel id");
        assert!(shown[6].starts_with("8:1: unknown role `superuser`:"), "{}", shown[6]);
        assert!(!shown[6].contains("did you mean"), "{}", shown[6]);
    }

    #[test]
    fn bad_ids_and_lengths() {
        let long_user = "U".repeat(65);
        let errors = Access::parse(&format!("viewer {long_user} *\nviewer {} *\n", "U".repeat(64))).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].line, errors[0].column), (1, 8));
        assert!(errors[0].message.contains("longer than 64"), "{}", errors[0]);
        // Quoted input is cut, so a long field does not flood the log.
        assert!(errors[0].message.len() < 200, "{}", errors[0]);

        let errors = Access::parse(&format!("viewer U1 {}\nchannels C1 C\u{7}2\n", "x".repeat(256))).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert!(errors[0].message.contains("longer than 255"), "{}", errors[0]);
        assert_eq!((errors[1].line, errors[1].column), (2, 13));
        assert!(errors[1].message.contains(r"`\u{7}`"), "control characters are escaped: {}", errors[1]);
        // Unicode columns count characters, not bytes.
        let errors = Access::parse("viewer U1 démo").unwrap_err();
        assert_eq!((errors[0].line, errors[0].column), (1, 12), "{}", errors[0]);
    }

    #[test]
    fn windows_files_read_the_same() {
        let access = Access::parse("\u{feff}admin U1 *\r\nviewer U2 demo # x\r\n").unwrap();
        assert_eq!(access.role("U1", "prod"), Some(Role::Admin));
        assert_eq!(access.role("U2", "demo"), Some(Role::Viewer));
    }

    #[test]
    fn a_bad_line_grants_nothing_and_a_role_field_is_exact() {
        // A file with an error is refused whole, so nothing half-read is ever in force.
        assert!(Access::parse("admin U1 *\nadmin U2 bad.glob\n").is_err());
        assert!(Access::parse("Admin U1 *").is_err());
    }

    #[test]
    fn limits() {
        let big = "#".repeat(MAX_FILE_BYTES + 1);
        let errors = Access::parse(&big).unwrap_err();
        assert_eq!(errors.iter().map(ToString::to_string).collect::<Vec<_>>(), ["1:1: the file is larger than 1 MiB"]);

        let at_limit = "viewer U1 *\n".repeat(MAX_LINES);
        assert_eq!(Access::parse(&at_limit).unwrap().len(), MAX_LINES);
        let over = format!("{at_limit}# one more\n");
        let errors = Access::parse(&over).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].to_string(), "10001:1: the file has more than 10000 lines");
    }

    #[test]
    fn required_roles() {
        let cmd = |text: &str| crate::grammar::parse(text).unwrap().required_role();
        assert_eq!(cmd("help"), None);
        assert_eq!(cmd("help deploy"), None);
        assert_eq!(cmd("clusters"), None);
        for viewer in ["status demo", "status demo web", "history demo", "plan demo", "deploy demo web"] {
            assert_eq!(cmd(viewer), Some(Role::Viewer), "{viewer}");
        }
        for deployer in ["deploy demo web:1", "deploy demo all:1", "scale demo web 2", "rollback demo v1"] {
            assert_eq!(cmd(deployer), Some(Role::Deployer), "{deployer}");
        }
        assert_eq!(cmd("lock demo"), Some(Role::Admin));
        assert_eq!(cmd("unlock demo"), Some(Role::Admin));
    }
}
