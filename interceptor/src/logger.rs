//! The `log` facade for code outside signal context, writing through gvnet-core's line writer so
//! every gvnet line, from the constructor or the SIGSYS handler, has one format and destination.

use gvnet_core::trace::{self, Level};

struct Logger;

fn to_core(l: log::Level) -> Level {
    match l {
        log::Level::Error => Level::Error,
        log::Level::Warn => Level::Warn,
        log::Level::Info => Level::Info,
        log::Level::Debug => Level::Debug,
        log::Level::Trace => Level::Trace,
    }
}

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        trace::enabled(to_core(m.level()))
    }

    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            trace::line(to_core(r.level()), &r.args().to_string());
        }
    }

    fn flush(&self) {}
}

static LOGGER: Logger = Logger;

/// Installs the logger at `level`. A program that already set a `log` logger keeps it; then
/// gvnet's constructor lines are lost, which is said on stderr.
pub fn init(level: Level) {
    let max = match level {
        Level::Off => log::LevelFilter::Off,
        Level::Error => log::LevelFilter::Error,
        Level::Warn => log::LevelFilter::Warn,
        Level::Info => log::LevelFilter::Info,
        Level::Debug => log::LevelFilter::Debug,
        Level::Trace => log::LevelFilter::Trace,
    };
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(max);
    }
}
