//! A progress bar for `verify` and `check` on a terminal, when the estimated cost is more than a
//! few seconds: the steps of every case's [`Progress`] summed, and the stage of the first case
//! still running.

use moeid::{Case, Options, Progress};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Estimated seconds above which a bar is drawn.
const SHOW_ABOVE_SECONDS: f64 = 3.0;

/// The drawing thread; dropping it clears the bar.
pub struct Display {
    stop: Arc<AtomicBool>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
    bar: Option<indicatif::ProgressBar>,
}

impl Display {
    /// Starts a bar over `progress` (one per file) when stderr is a terminal and the files'
    /// estimated cost exceeds a few seconds; otherwise draws nothing.
    pub fn start(files: &[PathBuf], options: &Options, progress: &[Arc<Progress>]) -> Display {
        let display = Display {
            stop: Arc::new(AtomicBool::new(false)),
            thread: Default::default(),
            bar: None,
        };
        if !std::io::stderr().is_terminal() {
            return display;
        }
        let seconds: f64 = files
            .iter()
            .filter_map(|f| Case::load(f).ok())
            .filter_map(|c| moeid::cost(&c, options).ok())
            .map(|c| c.seconds.1)
            .sum();
        let threads = rayon::current_num_threads().max(1) as f64;
        let wall = seconds / threads.min(files.len().max(1) as f64);
        if wall < SHOW_ABOVE_SECONDS {
            return display;
        }
        let bar = indicatif::ProgressBar::new(1);
        bar.set_prefix(format!(
            "verify (up to ~{})",
            moeid::report::text::seconds(wall)
        ));
        Display::drawing(bar, files, progress)
    }

    /// Draws `bar` over `progress` (one per file) until [`Display::finish`].
    fn drawing(
        bar: indicatif::ProgressBar,
        files: &[PathBuf],
        progress: &[Arc<Progress>],
    ) -> Display {
        let mut display = Display {
            stop: Arc::new(AtomicBool::new(false)),
            thread: Default::default(),
            bar: Some(bar.clone()),
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{prefix} [{elapsed_precise}] {bar:30} {pos}/{len} steps  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let stop = display.stop.clone();
        let progress: Vec<Arc<Progress>> = progress.to_vec();
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        display.thread = std::sync::Mutex::new(Some(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let (mut done, mut total) = (0, 0);
                let mut running = None;
                for (p, name) in progress.iter().zip(&names) {
                    let (d, t) = p.steps();
                    done += d;
                    total += t.max(1);
                    if running.is_none() && !p.stage().is_empty() && d < t {
                        running = Some(format!("{name}: {}", p.stage()));
                    }
                }
                bar.set_length(total as u64);
                bar.set_position(done as u64);
                bar.set_message(running.unwrap_or_default());
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            bar.finish_and_clear();
        })));
        display
    }

    /// Runs `f` with the bar cleared, and draws it again after: for output written while the
    /// bar is shown (a verdict, an error), which would otherwise be drawn over.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    /// Clears the bar (before anything else is written to stderr).
    pub fn finish(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = handle {
            let _ = t.join();
        }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::{InMemoryTerm, ProgressBar, ProgressDrawTarget};

    #[test]
    fn output_is_written_with_the_bar_cleared() {
        let term = InMemoryTerm::new(8, 120);
        let target = ProgressDrawTarget::term_like(Box::new(term.clone()));
        let bar = ProgressBar::with_draw_target(Some(1), target);
        bar.set_prefix("verify");
        let progress = vec![Arc::new(Progress::default())];
        let display = Display::drawing(bar, &[PathBuf::from("a.toml")], &progress);
        let shown = || term.contents().contains("steps");
        // The drawing thread draws within a few of its 100 ms rounds.
        for _ in 0..200 {
            if shown() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        assert!(shown(), "the bar is never drawn: {:?}", term.contents());
        let during = display.suspend(|| term.contents());
        assert!(
            !during.contains("steps"),
            "drawn under the output: {during:?}"
        );
        assert!(shown(), "not drawn again after: {:?}", term.contents());
        display.finish();
        assert!(!shown(), "left on screen: {:?}", term.contents());
    }

    #[test]
    fn without_a_bar_output_is_written_as_is() {
        let display = Display::start(&[], &Options::default(), &[]);
        assert_eq!(display.suspend(|| 7), 7);
    }
}
