//! GVNET_* settings: parsed once, by a pure function, with a clear complaint for each bad value.

use gvnet_core::trace::Level;

/// When gvnet acts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Probe the kernel; act only where it refuses netlink multicast.
    Auto,
    /// Act even where the kernel accepts it (for tests on Linux).
    Force,
    /// Load inert.
    Off,
}

/// What a target (GVNET_TARGETS) passes on to the processes it starts, in `LD_PRELOAD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Children {
    /// The environment they inherit no longer names libgvnet.so (other entries stay): none of
    /// dockerd's children needs gvnet, and each would pay for loading it.
    Drop,
    /// They inherit `LD_PRELOAD` unchanged and load gvnet too.
    Keep,
}

/// The settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// GVNET_MODE.
    pub mode: Mode,
    /// GVNET_TARGETS: executable base names that get the raw-syscall engine.
    pub targets: Vec<String>,
    /// GVNET_LOG.
    pub level: Level,
    /// GVNET_LOG_FILE.
    pub log_file: Option<String>,
    /// GVNET_EVENTS: deliver synthesized multicast events to subscribed sockets.
    pub events: bool,
    /// GVNET_EVENT_INTERVAL_MS: time between two dumps of the monitor right after a change
    /// (1..=10000).
    pub event_interval_ms: i64,
    /// GVNET_EVENT_IDLE_MS: longest time between two dumps while nothing changes (0..=60000;
    /// 0: dump only when kicked).
    pub event_idle_ms: i64,
    /// GVNET_EVENT_KICK: the file whose first page holds the kick word shared by the gvnet
    /// processes of the sandbox; `None` (`off`): kicks stay inside the process.
    pub event_kick: Option<String>,
    /// GVNET_CHILDREN: `drop` (default) or `keep`; applies to targets only.
    pub children: Children,
}

/// Default GVNET_EVENT_KICK.
pub const DEFAULT_KICK: &str = "/dev/shm/gvnet-events";

/// Default GVNET_TARGETS.
pub const DEFAULT_TARGETS: &str = "dockerd";

impl Config {
    /// Parses the settings from a lookup function; returns them and one line per ignored value.
    pub fn parse(get: impl Fn(&str) -> Option<String>) -> (Config, Vec<String>) {
        let mut complaints = Vec::new();
        let mode = match get("GVNET_MODE").as_deref() {
            None | Some("") | Some("auto") => Mode::Auto,
            Some("force") => Mode::Force,
            Some("off") => Mode::Off,
            Some(v) => {
                complaints.push(format!(
                    "GVNET_MODE={v:?} is not auto, force or off: using auto"
                ));
                Mode::Auto
            }
        };
        let level = match get("GVNET_LOG").as_deref() {
            None | Some("") => Level::Warn,
            Some(v) => Level::parse(v).unwrap_or_else(|| {
                complaints.push(format!(
                    "GVNET_LOG={v:?} is not off, error, warn, info, debug or trace: using warn"
                ));
                Level::Warn
            }),
        };
        let targets_raw = get("GVNET_TARGETS").unwrap_or_else(|| DEFAULT_TARGETS.to_string());
        let targets: Vec<String> = targets_raw
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect();
        if targets.is_empty() {
            complaints
                .push("GVNET_TARGETS is empty: no process gets the raw-syscall engine".to_string());
        }
        let log_file = get("GVNET_LOG_FILE").filter(|f| !f.is_empty());
        let events = match get("GVNET_EVENTS").as_deref() {
            None | Some("") | Some("on") => true,
            Some("off") => false,
            Some(v) => {
                complaints.push(format!("GVNET_EVENTS={v:?} is not on or off: using on"));
                true
            }
        };
        let event_interval_ms = match get("GVNET_EVENT_INTERVAL_MS").as_deref() {
            None | Some("") => gvnet_core::monitor::INTERVAL_MS,
            Some(v) => match v.parse::<i64>() {
                Ok(ms) if (1..=10_000).contains(&ms) => ms,
                _ => {
                    complaints.push(format!(
                        "GVNET_EVENT_INTERVAL_MS={v:?} is not a number of milliseconds from 1 to 10000: using {}",
                        gvnet_core::monitor::INTERVAL_MS
                    ));
                    gvnet_core::monitor::INTERVAL_MS
                }
            },
        };
        let event_idle_ms = match get("GVNET_EVENT_IDLE_MS").as_deref() {
            None | Some("") => gvnet_core::monitor::IDLE_MS,
            Some(v) => match v.parse::<i64>() {
                Ok(ms) if (0..=60_000).contains(&ms) => ms,
                _ => {
                    complaints.push(format!(
                        "GVNET_EVENT_IDLE_MS={v:?} is not a number of milliseconds from 0 to 60000: using {}",
                        gvnet_core::monitor::IDLE_MS
                    ));
                    gvnet_core::monitor::IDLE_MS
                }
            },
        };
        let event_kick = match get("GVNET_EVENT_KICK").as_deref() {
            None | Some("") => Some(DEFAULT_KICK.to_string()),
            Some("off") => None,
            Some(v) if v.starts_with('/') => Some(v.to_string()),
            Some(v) => {
                complaints.push(format!(
                    "GVNET_EVENT_KICK={v:?} is not an absolute path or off: using {DEFAULT_KICK}"
                ));
                Some(DEFAULT_KICK.to_string())
            }
        };
        let children = match get("GVNET_CHILDREN").as_deref() {
            None | Some("") | Some("drop") => Children::Drop,
            Some("keep") => Children::Keep,
            Some(v) => {
                complaints.push(format!(
                    "GVNET_CHILDREN={v:?} is not drop or keep: using drop"
                ));
                Children::Drop
            }
        };
        (
            Config {
                mode,
                targets,
                level,
                log_file,
                events,
                event_interval_ms,
                event_idle_ms,
                event_kick,
                children,
            },
            complaints,
        )
    }

    /// Whether the executable `exe` (a path) is a target.
    pub fn is_target(&self, exe: &str) -> bool {
        let base = exe.rsplit('/').next().unwrap_or(exe);
        // The kernel appends " (deleted)" to /proc/self/exe of a replaced binary.
        let base = base.strip_suffix(" (deleted)").unwrap_or(base);
        self.targets.iter().any(|t| t == base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> (Config, Vec<String>) {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::parse(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let (c, bad) = parse(&[]);
        assert!(bad.is_empty());
        assert_eq!(c.mode, Mode::Auto);
        assert_eq!(c.level, Level::Warn);
        assert_eq!(c.targets, vec!["dockerd"]);
        assert!(c.events);
        assert_eq!(c.event_idle_ms, gvnet_core::monitor::IDLE_MS);
        assert_eq!(c.event_kick.as_deref(), Some(DEFAULT_KICK));
        assert_eq!(c.children, Children::Drop);
        assert!(c.is_target("/usr/sbin/dockerd"));
        assert!(!c.is_target("/usr/bin/containerd"));
        assert!(c.is_target("/usr/sbin/dockerd (deleted)"));
    }

    #[test]
    fn invalid_values_are_named_and_replaced_by_defaults() {
        let (c, bad) = parse(&[
            ("GVNET_MODE", "always"),
            ("GVNET_LOG", "loud"),
            ("GVNET_TARGETS", " , "),
            ("GVNET_EVENTS", "maybe"),
            ("GVNET_EVENT_INTERVAL_MS", "0"),
            ("GVNET_EVENT_IDLE_MS", "-1"),
            ("GVNET_EVENT_KICK", "shm/x"),
            ("GVNET_CHILDREN", "some"),
        ]);
        assert_eq!(c.event_interval_ms, 10);
        assert_eq!(c.event_idle_ms, gvnet_core::monitor::IDLE_MS);
        assert_eq!(c.event_kick.as_deref(), Some(DEFAULT_KICK));
        assert!(c.events);
        assert_eq!(c.mode, Mode::Auto);
        assert_eq!(c.level, Level::Warn);
        assert!(c.targets.is_empty());
        assert_eq!(c.children, Children::Drop);
        assert_eq!(bad.len(), 8);
        assert!(bad[0].contains("GVNET_MODE=\"always\""));
    }

    #[test]
    fn interval_bounds_and_junk() {
        for bad in ["abc", "-5", "10001", "1.5", " 10", "0x10"] {
            let (c, complaints) = parse(&[("GVNET_EVENT_INTERVAL_MS", bad)]);
            assert_eq!(c.event_interval_ms, 10, "{bad}");
            assert_eq!(complaints.len(), 1, "{bad}");
            assert!(
                complaints[0].contains(&format!("GVNET_EVENT_INTERVAL_MS={bad:?}"))
                    && complaints[0].contains("using 10"),
                "{}",
                complaints[0]
            );
        }
        for good in [("1", 1), ("10000", 10_000), ("250", 250)] {
            let (c, complaints) = parse(&[("GVNET_EVENT_INTERVAL_MS", good.0)]);
            assert_eq!((c.event_interval_ms, complaints.len()), (good.1, 0));
        }
    }

    #[test]
    fn empty_values_are_the_defaults_without_a_complaint() {
        let (c, complaints) = parse(&[
            ("GVNET_MODE", ""),
            ("GVNET_LOG", ""),
            ("GVNET_LOG_FILE", ""),
            ("GVNET_EVENTS", ""),
            ("GVNET_EVENT_INTERVAL_MS", ""),
        ]);
        assert!(complaints.is_empty(), "{complaints:?}");
        assert_eq!(c, parse(&[]).0);
        assert_eq!(c.log_file, None);
    }

    #[test]
    fn each_complaint_names_its_variable_value_and_the_default_used() {
        let (_, complaints) = parse(&[("GVNET_MODE", "FORCE"), ("GVNET_LOG", "verbose")]);
        assert_eq!(
            complaints,
            vec![
                "GVNET_MODE=\"FORCE\" is not auto, force or off: using auto".to_string(),
                "GVNET_LOG=\"verbose\" is not off, error, warn, info, debug or trace: using warn"
                    .to_string(),
            ]
        );
    }

    #[test]
    fn lists_and_modes() {
        let (c, bad) = parse(&[
            ("GVNET_MODE", "force"),
            ("GVNET_TARGETS", "dockerd, nlconform-go"),
            ("GVNET_LOG", "trace"),
            ("GVNET_EVENTS", "off"),
            ("GVNET_EVENT_IDLE_MS", "0"),
            ("GVNET_EVENT_KICK", "off"),
            ("GVNET_CHILDREN", "keep"),
        ]);
        assert!(bad.is_empty());
        assert_eq!(c.children, Children::Keep);
        assert!(!c.events);
        assert_eq!(c.event_idle_ms, 0);
        assert_eq!(c.event_kick, None);
        assert_eq!(c.mode, Mode::Force);
        assert_eq!(c.level, Level::Trace);
        assert!(c.is_target("/tmp/x/nlconform-go"));
    }
}
