//! Where the CLI's output goes, and what a failed write means: one policy for every command
//! (README, "Exit codes and output errors").
//!
//! - Standard output closed by its reader (a broken pipe: `| head`, `| true`): the command
//!   ends silently with the exit code it would otherwise give. Rust ignores `SIGPIPE`, so the
//!   write returns `EPIPE` and [`stdout`] reports [`Sent::Closed`].
//! - Any other write error (`> /dev/full`): a message naming standard output or the file, and
//!   exit code 2.
//! - Standard error failing never changes the exit code ([`stderr_line`] ignores it).
//! - A file the CLI writes ([`write_file`]) is replaced atomically (a temporary file beside it,
//!   then a rename) only when it is a regular file or a new path; a FIFO or a character device
//!   is written through, a symbolic link is followed (its target is written, the link kept), a
//!   directory or the input file itself is refused, and no temporary file is ever left behind.

use std::fmt;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What became of output sent to standard output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    /// All of it was written and flushed.
    Written,
    /// The reader closed the pipe: nothing more is worth writing, and the command keeps its
    /// own exit code.
    Closed,
}

/// Writes `bytes` to standard output and flushes it. A closed pipe is [`Sent::Closed`]; any
/// other error prints `vss-sim CMD: cannot write to standard output: ERROR` on standard error
/// and gives exit code 2.
pub fn stdout(cmd: &str, bytes: &[u8]) -> Result<Sent, ExitCode> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(Sent::Written),
        Err(e) => classify(cmd, &e),
    }
}

/// What a write error on standard output means for `cmd` (the policy above; `""` for none).
pub fn classify(cmd: &str, e: &io::Error) -> Result<Sent, ExitCode> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(Sent::Closed)
    } else {
        let sep = if cmd.is_empty() { "" } else { " " };
        stderr_line(format_args!(
            "vss-sim{sep}{cmd}: cannot write to standard output: {e}"
        ));
        Err(ExitCode::from(2))
    }
}

/// `eprintln!` that cannot panic: writes one line to standard error and ignores a failure
/// (a failing standard error never changes what the command does or its exit code).
pub fn stderr_line(args: fmt::Arguments<'_>) {
    stderr(format_args!("{args}\n"));
}

/// Writes to standard error, ignoring a failure (see [`stderr_line`]).
pub fn stderr(args: fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.flush());
}

/// A file the CLI will write, checked by the policy above before any work is done.
#[derive(Debug)]
pub struct Target {
    /// The path as the user gave it, for messages.
    shown: String,
    /// What is written through (the path as given), or replaced (every link followed).
    path: PathBuf,
    /// How it is written.
    how: How,
}

#[derive(Debug)]
enum How {
    /// A FIFO or a character device: opened and written through.
    Through,
    /// A regular file or a new path: a temporary file beside it, then a rename; the permissions
    /// of the file replaced, if there is one.
    Replace(Option<std::fs::Permissions>),
}

/// Checks the file `path` names for writing: symbolic links followed, a directory or the file
/// `input` (the scenario the command read) refused. The error is a message naming the path,
/// for exit code 2.
pub fn target(path: &Path, input: Option<&Path>) -> Result<Target, String> {
    let shown = path.display().to_string();
    let fail = |e: io::Error| format!("{shown}: {e}");
    // `metadata` follows every link, the kernel's own (`/dev/stdout`) included.
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // A new path, or a dangling link whose target is to be created; its directory
            // must exist.
            let path = resolve_links(path).map_err(fail)?;
            let dir = dir_of(&path);
            if !std::fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
                return Err(format!(
                    "{shown}: no directory {} to write it in",
                    dir.display()
                ));
            }
            return Ok(Target {
                shown,
                path,
                how: How::Replace(None),
            });
        }
        Err(e) => return Err(fail(e)),
    };
    if meta.is_dir() {
        return Err(format!("{shown}: is a directory; name a file"));
    }
    if let Some(input) = input
        && same_file(&meta, path, input)
    {
        return Err(format!(
            "{shown}: is the scenario file {}; name another file",
            input.display()
        ));
    }
    let (path, how) = if is_stream(&meta) {
        // Opened by its own name: the kernel follows the links.
        (path.to_path_buf(), How::Through)
    } else if meta.is_file() {
        // The file itself, every link followed: the temporary file goes beside it.
        let real = std::fs::canonicalize(path).map_err(fail)?;
        (real, How::Replace(Some(meta.permissions())))
    } else {
        return Err(format!(
            "{shown}: is neither a regular file, a FIFO nor a character device"
        ));
    };
    Ok(Target { shown, path, how })
}

impl Target {
    /// Writes `bytes` to the target; the error is a message naming the path, for exit code 2.
    pub fn write(&self, bytes: &[u8]) -> Result<(), String> {
        match &self.how {
            How::Through => OpenOptions::new()
                .write(true)
                .open(&self.path)
                .and_then(|mut f| f.write_all(bytes).and_then(|()| f.flush())),
            How::Replace(perms) => replace_atomically(&self.path, bytes, perms.as_ref()),
        }
        .map_err(|e| format!("{}: {e}", self.shown))
    }
}

/// Writes `bytes` to the file `path` names, by the policy above ([`target`], then
/// [`Target::write`]).
pub fn write_file(path: &Path, bytes: &[u8], input: Option<&Path>) -> Result<(), String> {
    target(path, input)?.write(bytes)
}

/// The directory `path` is in (`.` for a bare name).
fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// `path` with every symbolic link along its last component followed (the target of a
/// dangling link included: writing it creates the target, as `open` would).
fn resolve_links(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

/// A FIFO or a character device: written through, never replaced.
#[cfg(unix)]
fn is_stream(meta: &Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    t.is_fifo() || t.is_char_device()
}

#[cfg(not(unix))]
fn is_stream(meta: &Metadata) -> bool {
    !meta.is_file() && !meta.is_dir()
}

/// Whether `target` (whose metadata is `meta`) is the file `input` names.
#[cfg(unix)]
fn same_file(meta: &Metadata, _target: &Path, input: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(input).is_ok_and(|i| (i.dev(), i.ino()) == (meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn same_file(_meta: &Metadata, target: &Path, input: &Path) -> bool {
    match (std::fs::canonicalize(target), std::fs::canonicalize(input)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Writes a temporary file beside `target` (created new, with the permissions of the file it
/// replaces), then renames it over `target`; on any error the temporary file is removed.
fn replace_atomically(
    target: &Path,
    bytes: &[u8],
    perms: Option<&std::fs::Permissions>,
) -> io::Result<()> {
    let dir = dir_of(target);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_string());
    let (tmp, mut file) = create_temp(dir, &name)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| match perms {
            Some(p) => file.set_permissions(p.clone()),
            None => Ok(()),
        })
        .and_then(|()| file.sync_all());
    drop(file);
    let done = written.and_then(|()| std::fs::rename(&tmp, target));
    if done.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    done
}

/// A new file `.NAME.tmpPID` (or `.NAME.tmpPID-N` if that exists) in `dir`.
fn create_temp(dir: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    let pid = std::process::id();
    let mut n = 0u32;
    loop {
        let tmp = if n == 0 {
            dir.join(format!(".{name}.tmp{pid}"))
        } else {
            dir.join(format!(".{name}.tmp{pid}-{n}"))
        };
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 100 => n += 1,
            Err(e) => return Err(e),
        }
    }
}
