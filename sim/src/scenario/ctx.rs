//! Where an error is: the file as the user named it, and the line of a span or of the first
//! line that mentions a value.

use super::ScenarioError;

/// The file being checked: its name for errors and its text for line numbers.
pub(crate) struct Ctx<'a> {
    pub(crate) file: &'a str,
    pub(crate) src: &'a str,
    /// The file supplies only the machine: code supplies the roles, so it may declare no
    /// requester (`scenario::parse_machine`).
    pub(crate) roles_in_code: bool,
}

impl Ctx<'_> {
    /// The 1-based line of byte `offset`.
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        self.line_column(offset).0
    }

    /// The 1-based line and column (in characters) of byte `offset`.
    pub(crate) fn line_column(&self, offset: usize) -> (usize, usize) {
        let mut end = offset.min(self.src.len());
        while !self.src.is_char_boundary(end) {
            end -= 1;
        }
        let before = &self.src[..end];
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        (
            before.matches('\n').count() + 1,
            before[line_start..].chars().count() + 1,
        )
    }

    /// An error at the line of `span`.
    pub(crate) fn at(
        &self,
        span: std::ops::Range<usize>,
        key: &str,
        message: String,
    ) -> ScenarioError {
        ScenarioError {
            file: self.file.to_string(),
            line: self.line_of(span.start),
            column: 0,
            key: key.into(),
            message,
        }
    }

    /// An error located at the first line after byte `offset` that mentions `needle` outside a
    /// comment.
    pub(crate) fn near_after(
        &self,
        offset: usize,
        needle: &str,
        key: &str,
        message: String,
    ) -> ScenarioError {
        let start = self.line_of(offset);
        let line = self
            .src
            .lines()
            .enumerate()
            .skip(start.saturating_sub(1))
            .find(|(_, l)| !l.trim_start().starts_with('#') && l.contains(needle))
            .map(|(i, _)| i + 1)
            .unwrap_or(start);
        ScenarioError {
            file: self.file.to_string(),
            line,
            column: 0,
            key: key.into(),
            message,
        }
    }

    /// An error located at the first line that mentions `needle` outside a comment.
    pub(crate) fn near(&self, needle: &str, key: &str, message: String) -> ScenarioError {
        let line = self
            .src
            .lines()
            .position(|l| !l.trim_start().starts_with('#') && l.contains(needle))
            .map(|i| i + 1)
            .unwrap_or(0);
        ScenarioError {
            file: self.file.to_string(),
            line,
            column: 0,
            key: key.into(),
            message,
        }
    }
}

/// The key written on the line of `offset`: the key of the last `key =` before it on that line
/// (in an inline table, the entry the offset is in), else the line's key or table header; empty
/// when the line holds no key (a syntax error between keys).
pub(crate) fn key_on_line(src: &str, offset: usize) -> String {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let start = src[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line = src[start..].lines().next().unwrap_or("");
    let before = &src[start..offset];
    let candidate = match before.rfind('=') {
        // The entry the offset is in: after the last `{`, `,` or `[` before its `=`.
        Some(eq) => {
            let k = &before[..eq];
            k[k.rfind(['{', ',', '[']).map(|i| i + 1).unwrap_or(0)..].trim()
        }
        None => {
            let t = line.trim();
            match t.split_once('=') {
                Some((k, _)) => k.trim(),
                None => t.trim_matches(|c| c == '[' || c == ']').trim(),
            }
        }
    };
    let plausible = !candidate.is_empty()
        && candidate
            .chars()
            .all(|c| c.is_alphanumeric() || "_-.\" ".contains(c));
    if plausible {
        candidate.to_string()
    } else {
        String::new()
    }
}
