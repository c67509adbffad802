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
}

impl Display {
    /// Starts a bar over `progress` (one per file) when stderr is a terminal and the files'
    /// estimated cost exceeds a few seconds; otherwise draws nothing.
    pub fn start(files: &[PathBuf], options: &Options, progress: &[Arc<Progress>]) -> Display {
        let mut display = Display {
            stop: Arc::new(AtomicBool::new(false)),
            thread: Default::default(),
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
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{prefix} [{elapsed_precise}] {bar:30} {pos}/{len} steps  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_prefix(format!(
            "verify (up to ~{})",
            moeid::report::text::seconds(wall)
        ));
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
