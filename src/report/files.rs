//! Report files on disk: atomic writes, the temporaries a killed run leaves, and which case
//! names are safe as file names inside a chosen folder.

/// Writes `contents` to `path` atomically: a temporary file in the same folder, then a rename,
/// so an interrupted run never leaves a half-written file.
///
/// # Errors
/// The I/O error.
pub fn write_atomic(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("report");
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut f, contents)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Removes the temporary files (`.NAME.tmpPID`) that a killed [`write_atomic`] left in `dir`.
/// Best effort: a file that cannot be removed is left alone.
pub fn remove_stray_temporaries(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let stray = name.starts_with('.')
            && name
                .rsplit_once(".tmp")
                .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()));
        if stray && e.path().is_file() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Why `name` cannot be a file name inside a chosen folder: empty, a path (separators, `..`,
/// absolute), a control character, or `README` (the report index's page, in any case).
pub fn unsafe_file_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.contains('/') || name.contains('\\') {
        Some("it contains a path separator")
    } else if name == "." || name.contains("..") {
        Some("it contains `..`")
    } else if name.starts_with('.') {
        Some("it starts with `.`")
    } else if name.chars().any(char::is_control) {
        Some("it contains a control character")
    } else if name.eq_ignore_ascii_case("README") {
        Some("README.md is the index page")
    } else {
        None
    }
}
