//! Located validation errors: one [`Diagnostic`] per problem, all of a document in [`Diagnostics`].

use std::fmt;

/// One validation error.
///
/// Displays as `{line}:{column}: {path}: {message}`. Lines and columns are 1-based and
/// point at the offending value (at the key for unknown keys). A problem that has no
/// place in the document, such as an invalid cluster name passed to [`load`](crate::load),
/// has line and column 0 and displays without them; a YAML syntax error has an empty path
/// and displays without it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Diagnostic {
    /// Field path such as `services[1].api.elb.ports.public`, so that a reader can find
    /// the field without counting lines.
    pub path: String,
    /// 1-based line of the offending value (0: not located in the document).
    pub line: usize,
    /// 1-based column of the offending value (0: not located in the document).
    pub column: usize,
    /// What is wrong, and where it helps, how to fix it.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: ", self.line, self.column)?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// All errors of one document, sorted by (line, column).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Sorts by position (then path and message, for a stable order) and drops exact
    /// duplicates, which can arise when two checks reach the same conclusion.
    pub(crate) fn from_unsorted(mut diags: Vec<Diagnostic>) -> Self {
        for d in &mut diags {
            // Paths hold keys and messages quote values, both written by the caller: a
            // terminal or a log shows them, so nothing in them may be a control character.
            printable(&mut d.path);
            printable(&mut d.message);
        }
        diags.sort_by(|a, b| (a.line, a.column, &a.path, &a.message).cmp(&(b.line, b.column, &b.path, &b.message)));
        diags.dedup();
        Diagnostics(diags)
    }

    /// Number of errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (never true for a returned error).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates over the errors in document order.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }
}

/// Escapes, in place, every character that a terminal would act on or hide.
fn printable(text: &mut String) {
    if text.chars().any(|c| crate::limits::forbidden(c, false)) {
        *text = text
            .chars()
            .map(|c| if crate::limits::forbidden(c, false) { c.escape_default().to_string() } else { c.to_string() })
            .collect();
    }
}

impl fmt::Display for Diagnostics {
    /// One diagnostic per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
