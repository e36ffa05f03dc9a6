//! The command grammar. The same text works after `/bosun` and after `@bosun`.
//!
//! ```text
//! help [COMMAND]                      clusters
//! status CLUSTER [SVC]                history CLUSTER           plan CLUSTER
//! deploy [to] CLUSTER SVC             the service's newest tags, as buttons
//! deploy [to] CLUSTER SVC:TAG[,SVC:TAG...]
//! deploy [to] CLUSTER all:TAG
//! scale CLUSTER SVC N                 rollback CLUSTER [to] VERSION
//! lock CLUSTER [for DURATION] [REASON]                          unlock CLUSTER
//! ```
//!
//! Command words and the keywords `to`, `for` and `all` are case-insensitive; names and
//! tags are not. Words are separated by any whitespace. A deploy's `SVC:TAG` pairs are
//! separated by commas, spaces, or both. Cluster and service names follow ECS (1-255
//! letters, digits, hyphens and underscores), tags the image reference syntax
//! (`[\w][\w.-]{0,127}`), so `deploy to staging-eu web-api:1.28.0-rc.1` works.
//!
//! Before the words are read, the text is taken out of Slack's markup: leading
//! mentions (`<@U0BOT>`) are skipped, a link (`<http://x.y|x.y>`, `<mailto:a@b|a@b>`)
//! becomes its label, and `&amp;`, `&lt;` and `&gt;` are decoded. Columns in errors
//! still count characters of the text as it arrived.
//!
//! A [`Command`] displays as its canonical text (`deploy staging web:1.28,api:2.0`),
//! which [`parse`] reads back into the same command; free text in it (a version, a
//! reason) has `&`, `<` and `>` escaped the way Slack sends them.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

/// The longest message read, in characters (Slack's own limit for a slash command).
pub const MAX_TEXT: usize = 4000;
/// The most `SVC:TAG` pairs in one deploy.
pub const MAX_DEPLOY_PAIRS: usize = 100;
/// The most tasks `scale` asks for: ECS's quota of tasks per service, the most a
/// service's desired count may be ("Tasks per service: 5,000", Amazon ECS service quotas).
pub const MAX_SCALE: u32 = 5000;
/// The longest lock reason, in characters.
pub const MAX_REASON: usize = 200;
/// The shortest lock.
pub const MIN_LOCK_TTL: Duration = Duration::from_secs(60);
/// The longest lock: a freeze is for an incident or a release, and it ends by itself.
pub const MAX_LOCK_TTL: Duration = Duration::from_secs(30 * 86_400);
/// The longest S3 version id taken.
const MAX_VERSION: usize = 1024;
/// The longest cluster or service name (ECS's limit).
const MAX_NAME: usize = 255;
/// The longest tag (the image reference syntax's limit).
const MAX_TAG: usize = 128;
/// At most this many characters of the user's text are repeated in an error.
const MAX_ECHO: usize = 64;

/// What a message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `help`, or an empty message.
    Help,
    /// `help COMMAND`: how to use one command ([`usage`]).
    HelpOn {
        /// The command's word, as in [`commands`].
        command: &'static str,
    },
    /// `clusters`.
    Clusters,
    /// `status CLUSTER [SVC]`.
    Status { cluster: String, service: Option<String> },
    /// `history CLUSTER`.
    History { cluster: String },
    /// `plan CLUSTER`: the current stackfile against live AWS.
    Plan { cluster: String },
    /// `deploy [to] CLUSTER SVC`: the service's 10 newest tags, as buttons.
    Tags { cluster: String, service: String },
    /// `deploy [to] CLUSTER SVC:TAG[,SVC:TAG...]` or `deploy [to] CLUSTER all:TAG`.
    Deploy { cluster: String, target: DeployTarget },
    /// `scale CLUSTER SVC N`, N at most [`MAX_SCALE`].
    Scale { cluster: String, service: String, count: u32 },
    /// `rollback CLUSTER [to] VERSION`: VERSION is an S3 version id of the stackfile.
    Rollback { cluster: String, version: String },
    /// `lock CLUSTER [for DURATION] [REASON]`: the duration is whole seconds from
    /// [`MIN_LOCK_TTL`] to [`MAX_LOCK_TTL`]; the reason is the rest of the text, its
    /// words joined by single spaces, at most [`MAX_REASON`] characters. `None`: not
    /// given (the executor picks the default).
    Lock { cluster: String, ttl: Option<Duration>, reason: Option<String> },
    /// `unlock CLUSTER`.
    Unlock { cluster: String },
}

/// What a deploy sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployTarget {
    /// `all:TAG`: every service's image gets this tag.
    All { tag: String },
    /// `SVC:TAG,...`: these services get these tags, in the order given. Never empty,
    /// at most [`MAX_DEPLOY_PAIRS`], each service once.
    Services(Vec<(String, String)>),
}

/// Why a message is not a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong. It repeats at most 64 characters of any word, with control
    /// characters escaped.
    pub message: String,
    /// 1-based column (in characters of the text as received) of the word that is
    /// wrong; for a missing word, where it would go.
    pub column: usize,
    /// A "did you mean", or the usage of the command.
    pub hint: Option<String>,
}

impl ParseError {
    fn new(column: usize, message: impl Into<String>) -> Self {
        Self { message: message.into(), column, hint: None }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseError {}

/// One command word and its forms, for help and usage hints.
struct Spec {
    word: &'static str,
    /// Each form's usage and what it does.
    forms: &'static [(&'static str, &'static str)],
}

const COMMANDS: &[Spec] = &[
    Spec { word: "help", forms: &[("help [COMMAND]", "this list, or how to use one command")] },
    Spec { word: "clusters", forms: &[("clusters", "the clusters you may see")] },
    Spec { word: "status", forms: &[("status CLUSTER [SVC]", "services, their images and task counts, and any lock")] },
    Spec { word: "plan", forms: &[("plan CLUSTER", "what bosun would change now (the stackfile against live AWS)")] },
    Spec { word: "history", forms: &[("history CLUSTER", "the latest jobs, and who asked for and approved them")] },
    Spec {
        word: "deploy",
        forms: &[
            ("deploy [to] CLUSTER SVC", "the service's 10 newest tags, as buttons"),
            ("deploy [to] CLUSTER SVC:TAG[,SVC:TAG...]", "propose these tags, as a plan to approve"),
            ("deploy [to] CLUSTER all:TAG", "propose this tag for every service"),
        ],
    },
    Spec { word: "scale", forms: &[("scale CLUSTER SVC N", "propose N tasks for a service (0 to 5000)")] },
    Spec {
        word: "rollback",
        forms: &[("rollback CLUSTER [to] VERSION", "propose the stackfile as it was at VERSION (an S3 version id)")],
    },
    Spec {
        word: "lock",
        forms: &[(
            "lock CLUSTER [for DURATION] [REASON]",
            "freeze a cluster, refusing changes until `unlock` or the end of DURATION (`30m`, `2h`, `1d`)",
        )],
    },
    Spec { word: "unlock", forms: &[("unlock CLUSTER", "end a freeze")] },
];

/// Every command word, in the order help lists them.
pub fn commands() -> impl Iterator<Item = &'static str> {
    COMMANDS.iter().map(|c| c.word)
}

fn spec(word: &str) -> Option<&'static Spec> {
    COMMANDS.iter().find(|c| c.word.eq_ignore_ascii_case(word))
}

/// How to use a command (its forms, one a line); `None` for a word that is no command.
pub fn usage(command: &str) -> Option<String> {
    spec(command).map(|s| s.forms.iter().map(|(form, _)| *form).collect::<Vec<_>>().join("\n"))
}

/// The `usage: ...` hint of a command's errors.
fn usage_hint(spec: &Spec) -> String {
    let forms: Vec<String> = spec.forms.iter().map(|(form, _)| format!("`{form}`")).collect();
    format!("usage: {}", forms.join(" or "))
}

/// Every command with a one-line description, for `help` (Slack mrkdwn).
pub fn help_text() -> String {
    let mut out = String::from("*bosun* takes these commands after `/bosun` or `@bosun`:\n");
    for (form, about) in COMMANDS.iter().flat_map(|c| c.forms) {
        out.push_str(&format!("• `{form}`: {about}\n"));
    }
    out.push_str(
        "Names may hold hyphens and tags dots (`deploy staging-eu web-api:1.28.0-rc.1`). \
         A deploy, scale or rollback shows its plan and waits for an approval.",
    );
    out
}

/// The candidate closest to `word`, if one is close enough to be a likely typo:
/// a Jaro-Winkler similarity of at least 0.8, or at most two edits away (as
/// `bosun_stackfile`'s suggestions). Longer words than any candidate get none.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    if word.len() > MAX_ECHO {
        return None;
    }
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (c, strsim::jaro_winkler(word, c), strsim::levenshtein(word, c)))
        .filter(|(c, jw, lev)| *jw >= 0.8 || (*lev <= 2 && *lev < c.len().max(word.len())))
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.2.cmp(&a.2)))
        .map(|(c, _, _)| c)
}

/// User input as it may appear in a reply or a log: in backticks, at most 64
/// characters, with control and invisible characters (and backticks) escaped.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::from("`");
    for (i, c) in text.chars().enumerate() {
        if i == MAX_ECHO {
            out.push('…');
            break;
        }
        if c.is_control() || is_invisible(c) || c == '`' {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out.push('`');
    out
}

/// Characters that are not control characters but change or hide what a reader sees:
/// zero-width characters, bidirectional overrides and isolates, the byte order mark.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

// ---- Reading the text -------------------------------------------------------------

/// One whitespace-separated word of the unescaped text.
#[derive(Debug)]
struct Word {
    text: String,
    /// The column, in the text as received, of each character of `text`.
    columns: Vec<usize>,
}

impl Word {
    fn column(&self) -> usize {
        self.columns[0]
    }

    /// The column of the character at `offset` (in characters) of the word, or the
    /// column just after its last character.
    fn column_at(&self, offset: usize) -> usize {
        self.columns.get(offset).copied().unwrap_or(self.columns[self.columns.len() - 1] + 1)
    }
}

/// The text as words, out of Slack's markup.
fn words(text: &str) -> Result<Vec<Word>, ParseError> {
    if text.chars().nth(MAX_TEXT).is_some() {
        return Err(ParseError::new(MAX_TEXT + 1, format!("the message is longer than {MAX_TEXT} characters")));
    }
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut word: Option<Word> = None;
    for (c, column) in unescape(&chars) {
        if c.is_whitespace() {
            words.extend(word.take());
        } else {
            let w = word.get_or_insert_with(|| Word { text: String::new(), columns: Vec::new() });
            w.text.push(c);
            w.columns.push(column);
        }
    }
    words.extend(word);
    Ok(words)
}

/// The characters of the text with Slack's markup taken out, each with the 1-based
/// column of the character of `chars` it comes from.
fn unescape(chars: &[char]) -> Vec<(char, usize)> {
    let mut out = Vec::with_capacity(chars.len());
    // Only whitespace and mentions so far: a mention here addresses the bot.
    let mut leading = true;
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '<'
            && let Some(close) = markup_end(chars, i)
        {
            let inner = i + 1..close;
            if !(leading && chars[i + 1] == '@') {
                let label = chars[inner.clone()].iter().position(|c| *c == '|').map_or(inner.start, |p| i + 2 + p);
                decode(chars, label..close, &mut out);
                leading = false;
            }
            i = close + 1;
            continue;
        }
        let next = decode_one(chars, i, &mut out);
        leading &= chars[i].is_whitespace();
        i = next;
    }
    out
}

/// The index of the `>` that closes the markup opened at `open`: Slack markup is one
/// line, holds no `<`, and is not empty.
fn markup_end(chars: &[char], open: usize) -> Option<usize> {
    let close = open + 1 + chars[open + 1..].iter().position(|c| matches!(c, '>' | '<' | '\n'))?;
    (chars[close] == '>' && close > open + 1).then_some(close)
}

/// Appends `chars[range]` with entities decoded.
fn decode(chars: &[char], range: std::ops::Range<usize>, out: &mut Vec<(char, usize)>) {
    let mut i = range.start;
    while i < range.end {
        // No entity holds a `>`, so none runs past the markup's end.
        i = decode_one(chars, i, out);
    }
}

/// Appends the character at `i`, or the entity that starts there, decoded; returns
/// where the next one starts.
fn decode_one(chars: &[char], i: usize, out: &mut Vec<(char, usize)>) -> usize {
    if chars[i] == '&' {
        for (entity, c) in [("&amp;", '&'), ("&lt;", '<'), ("&gt;", '>')] {
            let len = entity.len();
            if chars.len() - i >= len && chars[i..i + len].iter().copied().eq(entity.chars()) {
                out.push((c, i + 1));
                return i + len;
            }
        }
    }
    out.push((chars[i], i + 1));
    i + 1
}

/// Escapes `&`, `<` and `>` as Slack does, so that [`parse`] reads the text back as it was.
fn escape(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

// ---- Parsing ----------------------------------------------------------------------

/// Parse a message's text. An empty message (or one that only mentions the bot) is
/// [`Command::Help`].
pub fn parse(text: &str) -> Result<Command, ParseError> {
    let words = words(text)?;
    let Some(first) = words.first() else { return Ok(Command::Help) };
    let Some(spec) = spec(&first.text) else {
        return Err(unknown_command(first));
    };
    let mut args = Args { words: &words[1..], end: end_column(&words), spec };
    let command = match spec.word {
        "help" => match args.next() {
            None => Command::Help,
            Some(word) => Command::HelpOn { command: spec_of(word)?.word },
        },
        "clusters" => Command::Clusters,
        "status" => Command::Status { cluster: args.cluster()?, service: args.optional_service()? },
        "history" => Command::History { cluster: args.cluster()? },
        "plan" => Command::Plan { cluster: args.cluster()? },
        "deploy" => return deploy(args),
        "scale" => Command::Scale { cluster: args.cluster()?, service: args.service()?, count: args.count()? },
        "rollback" => {
            let cluster = args.cluster()?;
            args.keyword("to");
            Command::Rollback { cluster, version: args.version()? }
        }
        "lock" => return lock(args),
        "unlock" => Command::Unlock { cluster: args.cluster()? },
        _ => unreachable!("every command word has its arm"),
    };
    args.finish()?;
    Ok(command)
}

fn unknown_command(word: &Word) -> ParseError {
    let lower = word.text.to_lowercase();
    let list = commands().collect::<Vec<_>>().join(", ");
    let hint = match did_you_mean(&lower, commands()) {
        Some(near) => format!("did you mean `{near}`? The commands are {list}"),
        None => format!("the commands are {list}"),
    };
    ParseError::new(word.column(), format!("unknown command {}", quote(&word.text))).hint(hint)
}

fn spec_of(word: &Word) -> Result<&'static Spec, ParseError> {
    spec(&word.text).ok_or_else(|| unknown_command(word))
}

/// The column after the last word: where a missing word goes.
fn end_column(words: &[Word]) -> usize {
    words.last().map_or(1, |w| w.column_at(w.columns.len()) + 1)
}

/// The words after the command word.
struct Args<'a> {
    words: &'a [Word],
    /// Where a missing word goes.
    end: usize,
    spec: &'static Spec,
}

impl<'a> Args<'a> {
    fn next(&mut self) -> Option<&'a Word> {
        let (first, rest) = self.words.split_first()?;
        self.words = rest;
        Some(first)
    }

    fn required(&mut self, what: &str) -> Result<&'a Word, ParseError> {
        self.next().ok_or_else(|| self.missing(what))
    }

    fn missing(&self, what: &str) -> ParseError {
        ParseError::new(self.end, format!("`{}` needs {what}", self.spec.word)).hint(usage_hint(self.spec))
    }

    /// Takes the next word if it is `keyword`, in any case.
    fn keyword(&mut self, keyword: &str) -> bool {
        let found = self.words.first().is_some_and(|w| w.text.eq_ignore_ascii_case(keyword));
        if found {
            self.words = &self.words[1..];
        }
        found
    }

    fn finish(&self) -> Result<(), ParseError> {
        match self.words.first() {
            None => Ok(()),
            Some(extra) => Err(ParseError::new(
                extra.column(),
                format!("unexpected {} after `{}`'s arguments", quote(&extra.text), self.spec.word),
            )
            .hint(usage_hint(self.spec))),
        }
    }

    fn cluster(&mut self) -> Result<String, ParseError> {
        let word = self.required("a CLUSTER")?;
        check_name("cluster", &word.text, word.column())?;
        Ok(word.text.clone())
    }

    fn service(&mut self) -> Result<String, ParseError> {
        let word = self.required("a SVC (a service name)")?;
        check_name("service", &word.text, word.column())?;
        Ok(word.text.clone())
    }

    fn optional_service(&mut self) -> Result<Option<String>, ParseError> {
        if self.words.is_empty() { Ok(None) } else { self.service().map(Some) }
    }

    fn count(&mut self) -> Result<u32, ParseError> {
        let word = self.required("N, the number of tasks")?;
        let count = (word.text.len() <= 5 && word.text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| word.text.parse::<u32>().ok())
            .flatten()
            .filter(|n| *n <= MAX_SCALE);
        count.ok_or_else(|| {
            ParseError::new(
                word.column(),
                format!("{} is not a task count: use a whole number from 0 to {MAX_SCALE}", quote(&word.text)),
            )
            .hint(format!("ECS runs at most {MAX_SCALE} tasks per service"))
        })
    }

    fn version(&mut self) -> Result<String, ParseError> {
        let word = self.required("a VERSION (the stackfile's S3 version id)")?;
        let bad = word.text.chars().position(|c| !c.is_ascii_graphic());
        if word.text.len() > MAX_VERSION || bad.is_some() {
            let problem = match bad {
                Some(at) => format!("has {}", quote(&word.text.chars().nth(at).unwrap_or(' ').to_string())),
                None => format!("is longer than {MAX_VERSION} characters"),
            };
            return Err(ParseError::new(
                word.column(),
                format!(
                    "version {} {problem}: an S3 version id is 1-{MAX_VERSION} printable ASCII characters",
                    quote(&word.text)
                ),
            ));
        }
        Ok(word.text.clone())
    }
}

/// Checks an ECS cluster or service name: 1-255 letters, digits, hyphens and underscores.
fn check_name(kind: &str, name: &str, column: usize) -> Result<(), ParseError> {
    const RULE: &str = "a name is 1-255 letters, digits, hyphens and underscores";
    let problem = if name.is_empty() {
        "is empty".to_owned()
    } else if name.chars().count() > MAX_NAME {
        format!("is longer than {MAX_NAME} characters")
    } else if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))) {
        format!("has {}", quote(&c.to_string()))
    } else {
        return Ok(());
    };
    Err(ParseError::new(column, format!("{kind} name {} {problem}: {RULE}", quote(name))))
}

/// Checks an image tag: `[\w][\w.-]{0,127}`, ASCII.
fn check_tag(tag: &str, column: usize) -> Result<(), ParseError> {
    const RULE: &str = "a tag is 1-128 letters, digits, `_`, `.` and `-`, and starts with a letter, digit or `_`";
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let problem = match tag.chars().next() {
        None => "is empty".to_owned(),
        Some(_) if tag.chars().count() > MAX_TAG => format!("is longer than {MAX_TAG} characters"),
        Some(first) if !word(first) => format!("starts with {}", quote(&first.to_string())),
        Some(_) => match tag.chars().find(|c| !(word(*c) || matches!(c, '.' | '-'))) {
            Some(c) => format!("has {}", quote(&c.to_string())),
            None => return Ok(()),
        },
    };
    Err(ParseError::new(column, format!("tag {} {problem}: {RULE}", quote(tag))))
}

/// One `SVC:TAG` (or `SVC`) of a deploy: a comma-separated piece of a word.
struct Piece<'a> {
    text: &'a str,
    word: &'a Word,
    /// Its offset, in characters, in the word.
    offset: usize,
}

impl Piece<'_> {
    fn column(&self) -> usize {
        self.word.column_at(self.offset)
    }
}

/// `deploy [to] CLUSTER ...`, after the command word.
fn deploy(mut args: Args<'_>) -> Result<Command, ParseError> {
    args.keyword("to");
    let cluster = args.cluster()?;
    let rest = args.words;
    if rest.is_empty() {
        return Err(args.missing("a SVC, or SVC:TAG pairs"));
    }
    let pieces = pieces(rest, args.spec)?;
    let usage = || usage_hint(args.spec);
    if let [only] = &pieces[..]
        && !only.text.contains(':')
        && !only.word.text.contains(',')
    {
        if only.text.eq_ignore_ascii_case("all") {
            return Err(ParseError::new(only.column(), "`all` needs a tag: `all:TAG`").hint(usage()));
        }
        check_name("service", only.text, only.column())?;
        return Ok(Command::Tags { cluster, service: only.text.to_owned() });
    }
    if let Some(extra) = pieces.get(MAX_DEPLOY_PAIRS) {
        return Err(ParseError::new(
            extra.column(),
            format!("a deploy takes at most {MAX_DEPLOY_PAIRS} SVC:TAG pairs"),
        ));
    }
    let mut services = Vec::with_capacity(pieces.len());
    let mut seen = HashSet::with_capacity(pieces.len());
    for piece in &pieces {
        let Some((service, tag)) = piece.text.split_once(':') else {
            return Err(ParseError::new(
                piece.column(),
                format!("{} has no tag: write SVC:TAG (or SVC alone to see its tags)", quote(piece.text)),
            )
            .hint(usage()));
        };
        let tag_column = piece.word.column_at(piece.offset + service.chars().count() + 1);
        if service.eq_ignore_ascii_case("all") {
            check_tag(tag, tag_column)?;
            if pieces.len() > 1 {
                return Err(ParseError::new(
                    piece.column(),
                    "`all:TAG` deploys every service, so it cannot be given with other services",
                )
                .hint(usage()));
            }
            return Ok(Command::Deploy { cluster, target: DeployTarget::All { tag: tag.to_owned() } });
        }
        check_name("service", service, piece.column())?;
        check_tag(tag, tag_column)?;
        if !seen.insert(service) {
            return Err(ParseError::new(
                piece.column(),
                format!("service {} is named twice: give each service one tag", quote(service)),
            ));
        }
        services.push((service.to_owned(), tag.to_owned()));
    }
    Ok(Command::Deploy { cluster, target: DeployTarget::Services(services) })
}

/// The comma-separated pieces of a deploy's words. A comma may end a word that another
/// follows, or start a word after another (`web:1, api:2`, `web:1 ,api:2`); other empty
/// pieces (`web:1,,api:2`, a trailing comma) are errors.
fn pieces<'a>(words: &'a [Word], spec: &'static Spec) -> Result<Vec<Piece<'a>>, ParseError> {
    let mut pieces = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let parts: Vec<&str> = word.text.split(',').collect();
        let mut offset: usize = 0;
        for (j, text) in parts.iter().enumerate() {
            let at_boundary = (j == 0 && i > 0) || (j == parts.len() - 1 && i < words.len() - 1);
            if text.is_empty() && !at_boundary {
                // Point at the comma after the gap, or at the one before it when it ends the text.
                let comma = if j < parts.len() - 1 { offset } else { offset.saturating_sub(1) };
                return Err(
                    ParseError::new(word.column_at(comma), "an empty SVC:TAG between commas").hint(usage_hint(spec))
                );
            }
            if !text.is_empty() {
                pieces.push(Piece { text, word, offset });
            }
            offset += text.chars().count() + 1;
            // Enough to report the pair over the limit; the rest are not read.
            if pieces.len() > MAX_DEPLOY_PAIRS {
                return Ok(pieces);
            }
        }
    }
    Ok(pieces)
}

/// `lock CLUSTER [for DURATION] [REASON]`, after the command word.
fn lock(mut args: Args<'_>) -> Result<Command, ParseError> {
    let cluster = args.cluster()?;
    let ttl = if args.keyword("for") {
        let word = args.required("a DURATION after `for`")?;
        Some(lock_ttl(word)?)
    } else {
        None
    };
    let words = args.words;
    for word in words {
        if let Some(at) = word.text.chars().position(|c| c.is_control() || is_invisible(c)) {
            return Err(ParseError::new(
                word.column_at(at),
                format!("the reason has a control or invisible character in {}", quote(&word.text)),
            ));
        }
    }
    let reason = words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
    if reason.chars().count() > MAX_REASON {
        return Err(ParseError::new(words[0].column(), format!("the reason is longer than {MAX_REASON} characters")));
    }
    Ok(Command::Lock { cluster, ttl, reason: (!reason.is_empty()).then_some(reason) })
}

fn lock_ttl(word: &Word) -> Result<Duration, ParseError> {
    const HINT: &str = "a duration is like `30m`, `2h`, `1h30m` or `1d`; to give only a reason, leave out `for`";
    let ttl = humantime::parse_duration(&word.text)
        .map_err(|_| ParseError::new(word.column(), format!("{} is not a duration", quote(&word.text))).hint(HINT))?;
    if ttl.subsec_nanos() != 0 {
        return Err(ParseError::new(word.column(), "a lock lasts whole seconds").hint(HINT));
    }
    if !(MIN_LOCK_TTL..=MAX_LOCK_TTL).contains(&ttl) {
        return Err(ParseError::new(
            word.column(),
            format!("a lock lasts from {} to {}, not {}", Ttl(MIN_LOCK_TTL), Ttl(MAX_LOCK_TTL), quote(&word.text)),
        )
        .hint(HINT));
    }
    Ok(ttl)
}

// ---- Canonical text ---------------------------------------------------------------

/// A lock's duration in one word, largest units first (`1d2h30m`), as `humantime` reads it.
struct Ttl(Duration);

impl fmt::Display for Ttl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut secs = self.0.as_secs();
        if secs == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
            if secs >= size {
                write!(f, "{}{unit}", secs / size)?;
                secs %= size;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `deploy to to web` deploys to a cluster named `to`; any other cluster needs no `to`.
        let deploy_to = |cluster: &str| if cluster.eq_ignore_ascii_case("to") { "deploy to" } else { "deploy" };
        match self {
            Self::Help => f.write_str("help"),
            Self::HelpOn { command } => write!(f, "help {command}"),
            Self::Clusters => f.write_str("clusters"),
            Self::Status { cluster, service: None } => write!(f, "status {cluster}"),
            Self::Status { cluster, service: Some(service) } => write!(f, "status {cluster} {service}"),
            Self::History { cluster } => write!(f, "history {cluster}"),
            Self::Plan { cluster } => write!(f, "plan {cluster}"),
            Self::Tags { cluster, service } => write!(f, "{} {cluster} {service}", deploy_to(cluster)),
            Self::Deploy { cluster, target } => {
                write!(f, "{} {cluster} ", deploy_to(cluster))?;
                match target {
                    DeployTarget::All { tag } => write!(f, "all:{tag}"),
                    DeployTarget::Services(services) => {
                        for (i, (service, tag)) in services.iter().enumerate() {
                            write!(f, "{}{service}:{tag}", if i == 0 { "" } else { "," })?;
                        }
                        Ok(())
                    }
                }
            }
            Self::Scale { cluster, service, count } => write!(f, "scale {cluster} {service} {count}"),
            Self::Rollback { cluster, version } => write!(f, "rollback {cluster} to {}", escape(version)),
            Self::Lock { cluster, ttl, reason } => {
                write!(f, "lock {cluster}")?;
                if let Some(ttl) = ttl {
                    write!(f, " for {}", Ttl(*ttl))?;
                }
                if let Some(reason) = reason {
                    write!(f, " {}", escape(reason))?;
                }
                Ok(())
            }
            Self::Unlock { cluster } => write!(f, "unlock {cluster}"),
        }
    }
}

impl Command {
    /// The command's word: `deploy` for [`Command::Tags`] and [`Command::Deploy`].
    pub fn word(&self) -> &'static str {
        match self {
            Self::Help | Self::HelpOn { .. } => "help",
            Self::Clusters => "clusters",
            Self::Status { .. } => "status",
            Self::History { .. } => "history",
            Self::Plan { .. } => "plan",
            Self::Tags { .. } | Self::Deploy { .. } => "deploy",
            Self::Scale { .. } => "scale",
            Self::Rollback { .. } => "rollback",
            Self::Lock { .. } => "lock",
            Self::Unlock { .. } => "unlock",
        }
    }

    /// The cluster the command is about; `None` for `help` and `clusters`.
    pub fn cluster(&self) -> Option<&str> {
        match self {
            Self::Help | Self::HelpOn { .. } | Self::Clusters => None,
            Self::Status { cluster, .. }
            | Self::History { cluster }
            | Self::Plan { cluster }
            | Self::Tags { cluster, .. }
            | Self::Deploy { cluster, .. }
            | Self::Scale { cluster, .. }
            | Self::Rollback { cluster, .. }
            | Self::Lock { cluster, .. }
            | Self::Unlock { cluster } => Some(cluster),
        }
    }

    /// Whether the command proposes a change (a plan to approve): deploy, scale, rollback.
    pub fn is_change(&self) -> bool {
        matches!(self, Self::Deploy { .. } | Self::Scale { .. } | Self::Rollback { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn ok(text: &str) -> Command {
        parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    /// The error's column, message and hint.
    #[track_caller]
    fn err(text: &str) -> (usize, String, String) {
        match parse(text) {
            Ok(cmd) => panic!("{text:?} parsed as {cmd:?}"),
            Err(e) => (e.column, e.message, e.hint.unwrap_or_default()),
        }
    }

    fn s(text: &str) -> String {
        text.to_owned()
    }

    fn services(pairs: &[(&str, &str)]) -> DeployTarget {
        DeployTarget::Services(pairs.iter().map(|(svc, tag)| (s(svc), s(tag))).collect())
    }

    #[test]
    fn bosun_commands() {
        let cases = [
            ("help", Command::Help),
            ("clusters", Command::Clusters),
            ("status demo", Command::Status { cluster: s("demo"), service: None }),
            ("status demo web_2", Command::Status { cluster: s("demo"), service: Some(s("web_2")) }),
            ("history prod-eu", Command::History { cluster: s("prod-eu") }),
            ("plan prod-eu", Command::Plan { cluster: s("prod-eu") }),
            ("scale demo web 4", Command::Scale { cluster: s("demo"), service: s("web"), count: 4 }),
            ("scale demo web 0", Command::Scale { cluster: s("demo"), service: s("web"), count: 0 }),
            ("scale demo web 007", Command::Scale { cluster: s("demo"), service: s("web"), count: 7 }),
            ("scale demo web 5000", Command::Scale { cluster: s("demo"), service: s("web"), count: 5000 }),
            (
                "rollback demo 3HL4kqt.Jl+cp/X=",
                Command::Rollback { cluster: s("demo"), version: s("3HL4kqt.Jl+cp/X=") },
            ),
            ("rollback demo to null", Command::Rollback { cluster: s("demo"), version: s("null") }),
            ("rollback demo to to", Command::Rollback { cluster: s("demo"), version: s("to") }),
            ("unlock prod", Command::Unlock { cluster: s("prod") }),
            ("lock prod", Command::Lock { cluster: s("prod"), ttl: None, reason: None }),
        ];
        for (text, want) in cases {
            assert_eq!(ok(text), want, "{text}");
        }
    }

    #[test]
    fn command_words_and_keywords_take_any_case_and_any_whitespace() {
        let want = Command::Deploy { cluster: s("Staging"), target: services(&[("Web", "V1")]) };
        assert_eq!(ok("DEPLOY TO Staging Web:V1"), want);
        assert_eq!(ok("  Deploy\tto \n Staging\u{a0}\u{a0}Web:V1  \r\n"), want);
        assert_eq!(ok("RollBack demo TO v1"), Command::Rollback { cluster: s("demo"), version: s("v1") });
        assert_eq!(ok("HELP"), Command::Help);
        // Names and tags keep their case.
        assert_ne!(ok("deploy staging web:v1"), want);
    }

    #[test]
    fn nysa_deploys() {
        let tags = |cluster: &str, service: &str| Command::Tags { cluster: s(cluster), service: s(service) };
        assert_eq!(ok("deploy staging web"), tags("staging", "web"));
        assert_eq!(ok("deploy to staging web"), tags("staging", "web"));
        assert_eq!(ok("deploy to to web"), tags("to", "web"));

        let deploy = |cluster: &str, target| Command::Deploy { cluster: s(cluster), target };
        let two = services(&[("web", "1.28"), ("api", "2.0")]);
        for text in [
            "deploy staging web:1.28,api:2.0",
            "deploy to staging web:1.28,api:2.0",
            "deploy staging web:1.28, api:2.0",
            "deploy staging web:1.28 ,api:2.0",
            "deploy staging web:1.28 , api:2.0",
            "deploy staging web:1.28 api:2.0",
        ] {
            assert_eq!(ok(text), deploy("staging", two.clone()), "{text}");
        }
        // Hyphens in names and dots in tags, which nysa's regex refused.
        assert_eq!(
            ok("deploy to staging-eu web-api:1.28.0-rc.1"),
            deploy("staging-eu", services(&[("web-api", "1.28.0-rc.1")]))
        );
        assert_eq!(ok("deploy demo web:_x.Y-9"), deploy("demo", services(&[("web", "_x.Y-9")])));
        assert_eq!(ok("deploy demo all:1.28"), deploy("demo", DeployTarget::All { tag: s("1.28") }));
        assert_eq!(ok("deploy demo ALL:1.28"), deploy("demo", DeployTarget::All { tag: s("1.28") }));
        // The order given is kept.
        assert_eq!(ok("deploy demo b:1,a:2,c:3"), deploy("demo", services(&[("b", "1"), ("a", "2"), ("c", "3")])));
    }

    #[test]
    fn locks() {
        let lock = |ttl: Option<u64>, reason: Option<&str>| Command::Lock {
            cluster: s("prod"),
            ttl: ttl.map(Duration::from_secs),
            reason: reason.map(s),
        };
        assert_eq!(ok("lock prod for 2h"), lock(Some(7200), None));
        assert_eq!(ok("lock prod FOR 30m"), lock(Some(1800), None));
        assert_eq!(
            ok("lock prod for 1h30m release   freeze\n(see #ops)"),
            lock(Some(5400), Some("release freeze (see #ops)"))
        );
        assert_eq!(ok("lock prod for 1d for the release"), lock(Some(86_400), Some("for the release")));
        assert_eq!(ok("lock prod for 30d"), lock(Some(30 * 86_400), None));
        assert_eq!(ok("lock prod for 1m"), lock(Some(60), None));
        // Without `for`, everything after the cluster is the reason.
        assert_eq!(ok("lock prod 2h is the outage"), lock(None, Some("2h is the outage")));
        assert_eq!(ok("lock prod incident 42 🔥"), lock(None, Some("incident 42 🔥")));
        let longest = "x".repeat(MAX_REASON);
        assert_eq!(ok(&format!("lock prod {longest}")), lock(None, Some(&longest)));
    }

    #[test]
    fn help_on_one_command() {
        assert_eq!(ok("help deploy"), Command::HelpOn { command: "deploy" });
        assert_eq!(ok("help LOCK"), Command::HelpOn { command: "lock" });
        assert_eq!(ok("help help"), Command::HelpOn { command: "help" });
        let (column, message, hint) = err("help deplyo");
        assert_eq!((column, message.as_str()), (6, "unknown command `deplyo`"));
        assert!(hint.starts_with("did you mean `deploy`?"), "{hint}");
        assert_eq!(err("help deploy now").0, 13);
    }

    #[test]
    fn an_empty_message_is_help() {
        for text in ["", "   ", "\n\t", "<@U0BOT>", "  <@U0BOT|bosun>  "] {
            assert_eq!(ok(text), Command::Help, "{text:?}");
        }
    }

    #[test]
    fn slack_markup_is_taken_out() {
        // Mentions of the bot (or anyone) before the command are skipped.
        assert_eq!(ok("<@U0BOT> plan demo"), Command::Plan { cluster: s("demo") });
        assert_eq!(ok("<@U0BOT|bosun> <@W123> plan demo"), Command::Plan { cluster: s("demo") });
        // Auto-linked words become their labels, the command word included.
        assert_eq!(ok("<http://deploy|deploy> demo web"), Command::Tags { cluster: s("demo"), service: s("web") });
        assert_eq!(
            ok("rollback demo <mailto:a@b.io|a@b.io>"),
            Command::Rollback { cluster: s("demo"), version: s("a@b.io") }
        );
        assert_eq!(
            ok("rollback demo <https://x.io>"),
            Command::Rollback { cluster: s("demo"), version: s("https://x.io") }
        );
        let reason = |text: &str| match ok(text) {
            Command::Lock { reason, .. } => reason.unwrap_or_default(),
            other => panic!("{other:?}"),
        };
        assert_eq!(reason("lock prod db &amp; cache"), "db & cache");
        assert_eq!(reason("lock prod a &lt;b&gt; c"), "a <b> c");
        // One pass: what an entity decodes to is not decoded again.
        assert_eq!(reason("lock prod &amp;lt;"), "&lt;");
        assert_eq!(reason("lock prod see <https://status.io/x|status.io> now"), "see status.io now");
        assert_eq!(reason("lock prod <https://a.io|a &amp; b>"), "a & b");
        // A mention after the command is text, not skipped; what Slack escaped stays text.
        assert_eq!(reason("lock prod ask <@U1> &lt;!channel&gt;"), "ask @U1 <!channel>");
        // A `<` that opens no markup, and `&` that starts no entity, are kept.
        assert_eq!(reason("lock prod 1 < 2 & 3 <> <"), "1 < 2 & 3 <> <");
    }

    #[test]
    fn columns_count_the_text_as_received() {
        // The mention and the entity are longer than what they decode to.
        let (column, message, _) = err("<@U0BOT> deploy st&amp;ge web");
        assert_eq!(column, 17);
        assert!(message.starts_with("cluster name `st&ge` has `&`"), "{message}");
        let (column, message, _) = err("<@U0BOT> deploy demo &lt;web:1");
        assert_eq!(column, 22, "{message}");
        // Characters, not bytes.
        assert_eq!(err("plan ünïcode").0, 6);
        assert_eq!(err("lock démo-ü for x").0, 6);
        assert_eq!(err("lock prod for x").0, 15);
        assert_eq!(err("lock prod for 2h ü\u{7}").0, 19);
    }

    #[test]
    fn unknown_commands_get_a_suggestion_and_the_list() {
        let (column, message, hint) = err("deplyo staging web:1");
        assert_eq!((column, message.as_str()), (1, "unknown command `deplyo`"));
        assert_eq!(
            hint,
            "did you mean `deploy`? The commands are help, clusters, status, plan, history, deploy, scale, rollback, \
             lock, unlock"
        );
        assert!(err("Stauts demo").2.starts_with("did you mean `status`?"));
        let (column, message, hint) = err("<@U0BOT>  frobnicate now");
        assert_eq!((column, message.as_str()), (11, "unknown command `frobnicate`"));
        assert!(hint.starts_with("the commands are help,"), "{hint}");
    }

    #[test]
    fn missing_and_extra_words_show_the_usage() {
        let cases = [
            ("plan", 6, "`plan` needs a CLUSTER", "usage: `plan CLUSTER`"),
            ("status  ", 8, "`status` needs a CLUSTER", "usage: `status CLUSTER [SVC]`"),
            ("history", 9, "`history` needs a CLUSTER", "usage: `history CLUSTER`"),
            ("unlock", 8, "`unlock` needs a CLUSTER", "usage: `unlock CLUSTER`"),
            ("lock", 6, "`lock` needs a CLUSTER", "usage: `lock CLUSTER [for DURATION] [REASON]`"),
            (
                "lock prod for",
                15,
                "`lock` needs a DURATION after `for`",
                "usage: `lock CLUSTER [for DURATION] [REASON]`",
            ),
            ("scale demo", 12, "`scale` needs a SVC (a service name)", "usage: `scale CLUSTER SVC N`"),
            ("scale demo web", 16, "`scale` needs N, the number of tasks", "usage: `scale CLUSTER SVC N`"),
            (
                "rollback demo to",
                18,
                "`rollback` needs a VERSION (the stackfile's S3 version id)",
                "usage: `rollback CLUSTER [to] VERSION`",
            ),
            ("plan demo now", 11, "unexpected `now` after `plan`'s arguments", "usage: `plan CLUSTER`"),
            ("clusters all", 10, "unexpected `all` after `clusters`'s arguments", "usage: `clusters`"),
            ("status demo web x", 17, "unexpected `x` after `status`'s arguments", "usage: `status CLUSTER [SVC]`"),
            ("scale demo web 2 3", 18, "unexpected `3` after `scale`'s arguments", "usage: `scale CLUSTER SVC N`"),
            ("unlock demo please", 13, "unexpected `please` after `unlock`'s arguments", "usage: `unlock CLUSTER`"),
        ];
        for (text, column, message, hint) in cases {
            assert_eq!(err(text), (column, s(message), s(hint)), "{text}");
        }
        let deploy_usage = "usage: `deploy [to] CLUSTER SVC` or `deploy [to] CLUSTER SVC:TAG[,SVC:TAG...]` or \
                            `deploy [to] CLUSTER all:TAG`";
        assert_eq!(err("deploy"), (8, s("`deploy` needs a CLUSTER"), s(deploy_usage)));
        assert_eq!(err("deploy to"), (11, s("`deploy` needs a CLUSTER"), s(deploy_usage)));
        assert_eq!(err("deploy to staging"), (19, s("`deploy` needs a SVC, or SVC:TAG pairs"), s(deploy_usage)));
    }

    #[test]
    fn bad_names_say_which_rule_they_break() {
        let rule = "a name is 1-255 letters, digits, hyphens and underscores";
        assert_eq!(err("plan staging.eu"), (6, format!("cluster name `staging.eu` has `.`: {rule}"), s("")));
        assert_eq!(err("status demo web/1"), (13, format!("service name `web/1` has `/`: {rule}"), s("")));
        assert_eq!(err("deploy demo :1").1, format!("service name `` is empty: {rule}"));
        let long = "c".repeat(256);
        let (column, message, _) = err(&format!("plan {long}"));
        assert_eq!(column, 6);
        assert!(message.ends_with(&format!("is longer than 255 characters: {rule}")), "{message}");
        assert!(ok(&format!("plan {}", "c".repeat(255))).cluster().is_some());
        assert_eq!(err("deploy demo web-é:1").1, format!("service name `web-é` has `é`: {rule}"));
    }

    #[test]
    fn bad_tags_say_which_rule_they_break() {
        let rule = "a tag is 1-128 letters, digits, `_`, `.` and `-`, and starts with a letter, digit or `_`";
        let cases = [
            ("deploy demo web:1.0+build", 17, "tag `1.0+build` has `+`"),
            ("deploy demo web:-rc", 17, "tag `-rc` starts with `-`"),
            ("deploy demo web:.1", 17, "tag `.1` starts with `.`"),
            ("deploy demo web:", 17, "tag `` is empty"),
            ("deploy demo web:1:2", 17, "tag `1:2` has `:`"),
            ("deploy demo api:1,web:ü", 23, "tag `ü` starts with `ü`"),
            ("deploy demo api:1,web:1ü", 23, "tag `1ü` has `ü`"),
            ("deploy demo all:x/y", 17, "tag `x/y` has `/`"),
        ];
        for (text, column, message) in cases {
            assert_eq!(err(text), (column, format!("{message}: {rule}"), s("")), "{text}");
        }
        let (_, message, _) = err(&format!("deploy demo web:{}", "t".repeat(129)));
        assert!(message.contains("is longer than 128 characters"), "{message}");
        assert!(ok(&format!("deploy demo web:{}", "t".repeat(128))).is_change());
    }

    #[test]
    fn deploy_lists_are_checked() {
        let usage_start = "usage: `deploy [to] CLUSTER SVC`";
        let (column, message, hint) = err("deploy staging web api");
        assert_eq!((column, message.as_str()), (16, "`web` has no tag: write SVC:TAG (or SVC alone to see its tags)"));
        assert!(hint.starts_with(usage_start), "{hint}");
        assert_eq!(err("deploy staging web:1,api").0, 22);
        assert_eq!(err("deploy staging web,api").0, 16);

        let (column, message, _) = err("deploy staging web:1,api:2,web:3");
        assert_eq!((column, message.as_str()), (28, "service `web` is named twice: give each service one tag"));

        let mixed = "`all:TAG` deploys every service, so it cannot be given with other services";
        assert_eq!(err("deploy staging web:1,all:2").0, 22);
        assert_eq!(err("deploy staging web:1,all:2").1, mixed);
        assert_eq!(err("deploy staging all:2 web:1").0, 16);
        let (column, message, hint) = err("deploy staging all");
        assert_eq!((column, message.as_str()), (16, "`all` needs a tag: `all:TAG`"));
        assert!(hint.starts_with(usage_start), "{hint}");

        // Commas: doubled, leading or trailing.
        let between = "an empty SVC:TAG between commas";
        assert_eq!(err("deploy staging web:1,,api:2").0, 22);
        assert_eq!(err("deploy staging web:1,,api:2").1, between);
        assert_eq!(err("deploy staging web:1,").0, 21);
        assert_eq!(err("deploy staging web:1 ,").0, 22);
        assert_eq!(err("deploy staging ,web:1").0, 16);
        assert_eq!(err("deploy staging web,").0, 19);
    }

    #[test]
    fn a_deploy_takes_at_most_100_pairs() {
        let pairs = |n: usize| (0..n).map(|i| format!("s{i}:1")).collect::<Vec<_>>().join(",");
        match ok(&format!("deploy demo {}", pairs(100))) {
            Command::Deploy { target: DeployTarget::Services(s), .. } => assert_eq!(s.len(), 100),
            other => panic!("{other:?}"),
        }
        let text = format!("deploy demo {}", pairs(101));
        let (column, message, _) = err(&text);
        assert_eq!(message, "a deploy takes at most 100 SVC:TAG pairs");
        assert_eq!(column, text.find("s100:").unwrap() + 1);
    }

    #[test]
    fn bad_counts_versions_and_durations() {
        for count in ["5001", "-1", "+1", "2.5", "99999999999", "four", "１"] {
            let (column, message, hint) = err(&format!("scale demo web {count}"));
            assert_eq!(column, 16, "{count}");
            assert!(message.ends_with("is not a task count: use a whole number from 0 to 5000"), "{message}");
            assert_eq!(hint, "ECS runs at most 5000 tasks per service");
        }

        let (column, message, _) = err("rollback demo to vé");
        assert_eq!(column, 18);
        assert_eq!(message, "version `vé` has `é`: an S3 version id is 1-1024 printable ASCII characters");
        assert!(err(&format!("rollback demo {}", "v".repeat(1025))).1.contains("is longer than 1024 characters"));
        assert!(ok(&format!("rollback demo {}", "v".repeat(1024))).is_change());

        let duration_hint = "a duration is like `30m`, `2h`, `1h30m` or `1d`; to give only a reason, leave out `for`";
        assert_eq!(err("lock prod for lunch break"), (15, s("`lunch` is not a duration"), s(duration_hint)));
        assert_eq!(err("lock prod for 30s"), (15, s("a lock lasts from 1m to 30d, not `30s`"), s(duration_hint)));
        assert_eq!(err("lock prod for 31d").1, "a lock lasts from 1m to 30d, not `31d`");
        assert_eq!(err("lock prod for 0").1, "a lock lasts from 1m to 30d, not `0`");
        assert_eq!(err("lock prod for 1h500ms").1, "a lock lasts whole seconds");
        assert_eq!(err("lock prod for 99999999999999999999y").1, "`99999999999999999999y` is not a duration");
    }

    #[test]
    fn reasons_are_limited_and_free_of_control_characters() {
        let (column, message, _) = err(&format!("lock prod {} y", "x".repeat(MAX_REASON)));
        assert_eq!((column, message.as_str()), (11, "the reason is longer than 200 characters"));
        let (column, message, _) = err("lock prod for 2h bell\u{7}s");
        assert_eq!(column, 22);
        assert_eq!(message, r"the reason has a control or invisible character in `bell\u{7}s`");
        // A right-to-left override would make the reason read otherwise than it is.
        assert_eq!(err("lock prod ok \u{202e}kcatta").0, 14);
        assert_eq!(err("lock prod zero\u{200b}width").0, 15);
    }

    #[test]
    fn the_text_is_limited() {
        let at_limit = format!("lock prod{}", " ".repeat(MAX_TEXT - 9));
        assert_eq!(ok(&at_limit).word(), "lock");
        let over = format!("{at_limit} ");
        assert_eq!(err(&over), (4001, s("the message is longer than 4000 characters"), s("")));
        // Counted in characters.
        assert!(parse(&"é".repeat(MAX_TEXT)).is_err_and(|e| e.column == 1));
    }

    #[test]
    fn errors_repeat_little_of_the_input_and_escape_it() {
        let long = format!("{}.", "w".repeat(100));
        let (_, message, _) = err(&format!("deploy demo {long}:1"));
        assert!(message.starts_with(&format!("service name `{}…` has `.`", "w".repeat(64))), "{message}");
        assert!(message.chars().count() < 200, "{message}");
        let (_, message, _) = err(&format!("{} demo", "x".repeat(3000)));
        assert_eq!(message, format!("unknown command `{}…`", "x".repeat(64)));
        // An escape sequence is shown, not sent to a terminal or a log.
        let (_, message, _) = err("plan st\u{1b}[31mred");
        assert_eq!(
            message,
            r"cluster name `st\u{1b}[31mred` has `\u{1b}`: a name is 1-255 letters, digits, hyphens and underscores"
        );
        assert_eq!(
            err("plan a`b").1,
            r"cluster name `a\u{60}b` has `\u{60}`: a name is 1-255 letters, digits, hyphens and underscores"
        );
    }

    #[test]
    fn display_is_canonical() {
        let cases = [
            ("deploy to staging web:1.28, api:2.0", "deploy staging web:1.28,api:2.0"),
            ("DEPLOY staging ALL:1.28", "deploy staging all:1.28"),
            ("deploy to to web", "deploy to to web"),
            ("deploy to TO web:1", "deploy to TO web:1"),
            ("deploy to staging web", "deploy staging web"),
            ("lock prod FOR 120m reason   text", "lock prod for 2h reason text"),
            ("lock prod for 90061s", "lock prod for 1d1h1m1s"),
            ("lock prod a &amp; b &lt;!here&gt;", "lock prod a &amp; b &lt;!here&gt;"),
            ("lock prod a & b", "lock prod a &amp; b"),
            ("rollback prod abc", "rollback prod to abc"),
            ("rollback prod to a&amp;b", "rollback prod to a&amp;b"),
            ("<@U0BOT> status demo", "status demo"),
            ("status demo web", "status demo web"),
            ("scale demo web 007", "scale demo web 7"),
            ("help Deploy", "help deploy"),
            ("", "help"),
            ("clusters", "clusters"),
            ("history demo", "history demo"),
            ("plan demo", "plan demo"),
            ("unlock demo", "unlock demo"),
        ];
        for (text, canonical) in cases {
            let cmd = ok(text);
            assert_eq!(cmd.to_string(), canonical, "{text}");
            assert_eq!(ok(canonical), cmd, "{canonical}");
        }
    }

    #[test]
    fn command_helpers() {
        assert_eq!(ok("deploy demo web").word(), "deploy");
        assert_eq!(ok("help lock").word(), "help");
        assert_eq!(ok("scale x y 1").cluster(), Some("x"));
        assert_eq!(ok("clusters").cluster(), None);
        assert!(ok("rollback x v").is_change() && !ok("deploy x web").is_change() && !ok("lock x").is_change());
    }

    #[test]
    fn usage_and_help() {
        assert_eq!(
            usage("deploy").unwrap(),
            "deploy [to] CLUSTER SVC\ndeploy [to] CLUSTER SVC:TAG[,SVC:TAG...]\ndeploy [to] CLUSTER all:TAG"
        );
        assert_eq!(usage("SCALE").as_deref(), Some("scale CLUSTER SVC N"));
        assert_eq!(usage("frobnicate"), None);
        let help = help_text();
        for word in commands() {
            assert!(help.contains(&format!("• `{}", usage(word).unwrap().lines().next().unwrap())), "{word}");
            assert_eq!(ok(&format!("help {word}")), Command::HelpOn { command: spec(word).unwrap().word });
        }
        insta::assert_snapshot!("help_text", help);
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        /// Pieces of commands, markup and awkward characters, to reach deep into the parser.
        fn soup() -> impl Strategy<Value = String> {
            let tokens = prop::sample::select(vec![
                "deploy",
                "to",
                "TO",
                "all",
                "all:1",
                "web",
                "web:1.2",
                "api:x",
                ":",
                ",",
                ", ",
                " ",
                "  ",
                "\n",
                "\t",
                "lock",
                "for",
                "2h",
                "1h30m",
                "scale",
                "5000",
                "rollback",
                "help",
                "status",
                "<@U0BOT>",
                "<@U1|x>",
                "<http://a|b>",
                "<",
                ">",
                "|",
                "&amp;",
                "&lt;",
                "&gt;",
                "&",
                "&am",
                "é",
                "\u{202e}",
                "\u{7}",
                "🔥",
                "\u{0}",
                "-",
                ".",
                "_",
            ]);
            prop::collection::vec(tokens, 0..60).prop_map(|t| t.concat())
        }

        proptest! {
            #[test]
            fn parse_never_panics(text in any::<String>()) {
                let _ = parse(&text);
            }

            #[test]
            fn parse_never_panics_on_commands_soup(text in soup()) {
                if let Ok(cmd) = parse(&text) {
                    // What parses displays as text that parses to the same command.
                    prop_assert_eq!(parse(&cmd.to_string()), Ok(cmd));
                }
            }

            #[test]
            fn errors_point_into_the_text_or_just_past_it(text in soup()) {
                if let Err(e) = parse(&text) {
                    prop_assert!(e.column >= 1 && e.column <= text.chars().count() + 2, "{e} in {text:?}");
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

            #[test]
            fn parse_never_panics_on_long_text(text in "\\PC{3990,4010}", prefix in soup()) {
                let _ = parse(&text);
                let _ = parse(&format!("{prefix}{text}"));
                let _ = parse(&format!("lock prod for 2h {text}"));
                let _ = parse(&format!("deploy demo {}", text.replace(' ', ",")));
            }
        }

        fn name() -> impl Strategy<Value = String> {
            "[A-Za-z0-9_-]{1,12}"
        }

        fn service() -> impl Strategy<Value = String> {
            name().prop_filter("`all` is the keyword", |s| !s.eq_ignore_ascii_case("all"))
        }

        fn tag() -> impl Strategy<Value = String> {
            "[A-Za-z0-9_][A-Za-z0-9_.-]{0,15}"
        }

        fn reason() -> impl Strategy<Value = String> {
            prop::collection::vec("[^\\s\\p{C}]{1,8}", 1..8).prop_map(|words| words.join(" "))
        }

        fn command() -> impl Strategy<Value = Command> {
            let services = prop::collection::vec((service(), tag()), 1..8).prop_map(|pairs| {
                let mut seen = HashSet::new();
                pairs.into_iter().filter(|(s, _)| seen.insert(s.clone())).collect::<Vec<_>>()
            });
            let ttl = prop::option::of((MIN_LOCK_TTL.as_secs()..=MAX_LOCK_TTL.as_secs()).prop_map(Duration::from_secs));
            prop_oneof![
                Just(Command::Help),
                prop::sample::select(commands().collect::<Vec<_>>()).prop_map(|command| Command::HelpOn { command }),
                Just(Command::Clusters),
                (name(), prop::option::of(name())).prop_map(|(cluster, service)| Command::Status { cluster, service }),
                name().prop_map(|cluster| Command::History { cluster }),
                name().prop_map(|cluster| Command::Plan { cluster }),
                (name(), service()).prop_map(|(cluster, service)| Command::Tags { cluster, service }),
                (name(), tag())
                    .prop_map(|(cluster, tag)| Command::Deploy { cluster, target: DeployTarget::All { tag } }),
                (name(), services)
                    .prop_map(|(cluster, s)| Command::Deploy { cluster, target: DeployTarget::Services(s) }),
                (name(), name(), 0..=MAX_SCALE).prop_map(|(cluster, service, count)| Command::Scale {
                    cluster,
                    service,
                    count
                }),
                (name(), "[!-~]{1,40}").prop_map(|(cluster, version)| Command::Rollback { cluster, version }),
                (name(), ttl, prop::option::of(reason()))
                    .prop_filter("a reason after no duration cannot start with `for`", |(_, ttl, reason)| {
                        ttl.is_some()
                            || !reason
                                .as_deref()
                                .is_some_and(|r| r.split(' ').next().unwrap().eq_ignore_ascii_case("for"))
                    })
                    .prop_map(|(cluster, ttl, reason)| Command::Lock { cluster, ttl, reason }),
                name().prop_map(|cluster| Command::Unlock { cluster }),
            ]
        }

        proptest! {
            #[test]
            fn display_round_trips(cmd in command()) {
                let text = cmd.to_string();
                prop_assert_eq!(parse(&text), Ok(cmd), "{}", text);
            }

            #[test]
            fn display_round_trips_after_a_mention(cmd in command()) {
                prop_assert_eq!(parse(&format!("<@U0BOT|bosun>  {cmd}")), Ok(cmd));
            }
        }
    }
}
