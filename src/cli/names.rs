//! Case names of one run: a name identifies a case in the output, on its page and in its data
//! file, so two files with one name are an error naming both.

use std::path::{Path, PathBuf};

/// The case names of one run, in file order: a name identifies a case in the output, its
/// report page and data file, so two files with one name are an error naming both.
#[derive(Default)]
pub(super) struct Names(Vec<(String, PathBuf)>);

impl Names {
    /// The file that already has `name`, if any; otherwise records `name` for `file`. The same
    /// file given twice (`verify a.toml a.toml`) is no clash.
    pub(super) fn earlier(&mut self, name: &str, file: &Path) -> Option<PathBuf> {
        let same = |a: &Path, b: &Path| {
            a == b
                || a.canonicalize()
                    .ok()
                    .is_some_and(|x| b.canonicalize().ok() == Some(x))
        };
        match self.0.iter().find(|(n, _)| n == name) {
            Some((_, first)) if same(first, file) => None,
            Some((_, first)) => Some(first.clone()),
            None => {
                self.0.push((name.to_string(), file.to_path_buf()));
                None
            }
        }
    }

    /// The message for `file` reusing the name of `first`; `clash` says what would go wrong.
    pub(super) fn error(name: &str, file: &Path, first: &Path, clash: &str) -> String {
        format!(
            "error: {}: the case name `{name}` is also the name of {}, and {clash}; rename one (`name = ...`)",
            file.display(),
            first.display()
        )
    }
}
