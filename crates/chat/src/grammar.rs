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
/// The most tasks `scale` asks for: ECS's quota of tasks per service, which cannot be
/// raised ("Tasks per service: 5,000", Amazon ECS service quotas).
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
    Spec { word: "plan", forms: &[("plan CLUSTER", "what bosun would change now: the stackfile against live AWS")] },
    Spec { word: "history", forms: &[("history CLUSTER", "the latest jobs, and who asked for and approved them")] },
    Spec {
        word: "deploy",
        forms: &[
            ("deploy [to] CLUSTER SVC", "the service's 10 newest tags, as buttons"),
            ("deploy [to] CLUSTER SVC:TAG[,SVC:TAG...]", "propose these tags: a plan to approve"),
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
            "freeze a cluster: changes are refused until `unlock` or the end of DURATION (`30m`, `2h`, `1d`)",
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
