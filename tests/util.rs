//! Helpers: run the binary in a fresh temporary directory, load repository cases.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A case from the repository's `cases/` folder.
pub fn case(name: &str) -> moeid::Case {
    moeid::Case::load(root().join("cases").join(name)).unwrap_or_else(|e| panic!("{e}"))
}

/// Every case file of the repository's `cases/`.
pub fn all_cases() -> Vec<PathBuf> {
    moeid::case::find(&[root().join("cases")])
}

/// Verifies a repository case with its own settings, cells of one atom only (the verdict and
/// its relations; the local geometry has tests of its own).
pub fn verify(name: &str) -> moeid::Verification {
    moeid::verify(&case(name), &verdict_only()).unwrap_or_else(|e| panic!("{e}"))
}

/// Options for tests about verdicts: the local geometry limited to one atom per cell.
pub fn verdict_only() -> moeid::Options {
    moeid::Options {
        cells: Some(1),
        ..moeid::Options::default()
    }
}

/// A temporary directory with files written into it.
pub struct Dir {
    pub dir: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Runs `moeid args...` in this directory.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }

    /// Runs `moeid args...` in `dir`.
    pub fn run_in(dir: &Path, args: &[&str]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_moeid"));
        cmd.args(args)
            .current_dir(dir)
            .env_remove("SLURM_ARRAY_TASK_ID")
            .env_remove("SLURM_ARRAY_TASK_COUNT")
            .env_remove("MOEID_SHARD");
        Run(cmd.output().expect("run moeid"))
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_moeid"));
        // a test run inside a SLURM job must not shard the commands it tests
        cmd.args(args)
            .current_dir(self.path())
            .env_remove("RUST_LOG")
            .env_remove("SLURM_ARRAY_TASK_ID")
            .env_remove("SLURM_ARRAY_TASK_COUNT")
            .env_remove("SLURM_ARRAY_TASK_MIN")
            .env_remove("MOEID_SHARD");
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run(cmd.output().expect("run moeid"))
    }
}

/// The output of one run.
pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
}
