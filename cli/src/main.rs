//! `gvnet`: the user-facing command of gvnet.
//!
//! ```text
//! gvnet doctor [--json]          checks this machine/sandbox, one line per check with its fix
//! gvnet counters PID [--json]    what libgvnet.so did in process PID (exit 1: not loaded)
//! gvnet run -- CMD [ARGS...]     exec CMD with LD_PRELOAD=<the installed libgvnet.so>
//! gvnet lib                      print the path of the library `run` uses
//! gvnet podman-setup [--lib PATH] [--undo]
//!                                what rootful podman needs in this sandbox (docs/podman.md)
//! gvnet podman-nat setup|teardown FILE|-, sync, status
//!                                podman's published ports and outbound SNAT (the wrapper's)
//! ```
//!
//! Arguments are parsed by hand: the workspace has no argument parser and a handful of subcommands do
//! not need one.

mod counters;
mod doctor;
mod elf;
mod json;
mod podman;
mod podnat;
mod probe;

use json::Json;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: gvnet doctor [--json]
       gvnet counters PID [--json]
       gvnet run -- CMD [ARGS...]
       gvnet lib
       gvnet podman-setup [--lib PATH] [--undo]
       gvnet podman-nat setup|teardown FILE|- | sync | status

doctor     checks what bridge networking inside gVisor needs (exit 1 when a check fails)
counters   what libgvnet.so did in process PID (exit 1 when it is not loaded there)
run        exec CMD with LD_PRELOAD set to the library (GVNET_LIB overrides where it is)
lib        print that library's path
podman-setup
           as root, once per sandbox: the containers.conf drop-in and netavark wrapper podman
           needs here, one line per file written (--undo removes them; docs/podman.md)
podman-nat the nat rules for podman's published ports and outbound, from netavark's input
           (the netavark wrapper runs setup/teardown; sync recomputes, status prints them)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let strs: Vec<&str> = args.iter().map(String::as_str).collect();
    match strs.as_slice() {
        ["doctor"] => doctor(false),
        ["doctor", "--json"] => doctor(true),
        ["counters", pid] => counters_cmd(pid, false),
        ["counters", pid, "--json"] | ["counters", "--json", pid] => counters_cmd(pid, true),
        ["run", "--", cmd, rest @ ..] => run(cmd, rest),
        ["lib"] => match library() {
            Ok(p) => {
                println!("{}", p.display());
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        ["podman-setup", rest @ ..] => podman_setup(rest),
        ["podman-nat", rest @ ..] => match podnat::main(rest) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&format!("podman-nat: {e}")),
        },
        // Internal: the doctor's bridge probe, in a child so the new namespace dies with it.
        ["probe-bridge"] => match probe::bridge_in_new_netns() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => ExitCode::from(e.0.clamp(1, 255) as u8),
        },
        ["-h"] | ["--help"] | ["help"] => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        ["--version"] => {
            println!("gvnet {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => {
            eprint!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("gvnet: {msg}");
    ExitCode::FAILURE
}

fn doctor(json: bool) -> ExitCode {
    let report = doctor::run();
    if json {
        println!("{}", report.to_json().render());
    } else {
        print!("{}", report.to_text());
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn counters_cmd(pid: &str, json: bool) -> ExitCode {
    let Ok(pid) = pid.parse::<u32>() else {
        return fail(&format!("{pid:?} is not a process id"));
    };
    let base = Json::obj().with("pid", Json::Num(pid as u64));
    let mapped = match counters::find_mapped(pid) {
        Ok(m) => m,
        Err(e) => return fail(&e),
    };
    let Some(m) = mapped else {
        if json {
            println!("{}", base.with("loaded", Json::Bool(false)).render());
        } else {
            println!("gvnet is not loaded in pid {pid}");
        }
        return ExitCode::FAILURE;
    };
    match counters::read(pid, &m) {
        Ok(s) => {
            if json {
                let mut j = base
                    .with("loaded", Json::Bool(true))
                    .with("library", Json::s(&m.path));
                if let Json::Obj(fields) = s.to_json() {
                    for (k, v) in fields {
                        j.put(&k, v);
                    }
                }
                println!("{}", j.render());
            } else {
                println!("gvnet in pid {pid} ({})", m.path);
                print!("{}", s.to_text());
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!(
            "gvnet is loaded in pid {pid} ({}), but its counters cannot be read: {e}",
            m.path
        )),
    }
}

/// The library `run` preloads: $GVNET_LIB, else next to this executable (the build tree:
/// target/release), else `../lib/gvnet/` relative to it (an installed PREFIX/bin/gvnet).
fn library() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("GVNET_LIB") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("GVNET_LIB={} is not a file", p.display()))
        };
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let dir = exe.parent().unwrap_or(&exe);
    let candidates = [
        dir.join("libgvnet.so"),
        dir.join("../lib/gvnet/libgvnet.so"),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .map(|p| p.canonicalize().unwrap_or_else(|_| p.clone()))
        .ok_or_else(|| {
            format!(
                "libgvnet.so not found (looked for {} and {}); set GVNET_LIB",
                candidates[0].display(),
                candidates[1].display()
            )
        })
}

fn run(cmd: &str, args: &[&str]) -> ExitCode {
    let lib = match library() {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let preload = match std::env::var("LD_PRELOAD") {
        Ok(old) if !old.is_empty() => format!("{}:{old}", lib.display()),
        _ => lib.display().to_string(),
    };
    let err = Command::new(cmd)
        .args(args)
        .env("LD_PRELOAD", preload)
        .exec();
    fail(&format!("cannot run {cmd}: {err}"))
}

fn podman_setup(args: &[&str]) -> ExitCode {
    let (undo, lib) = match args {
        [] => (false, None),
        ["--undo"] => (true, None),
        ["--lib", p] => (false, Some(PathBuf::from(p))),
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let root = std::path::Path::new("/");
    if undo {
        return match podman::undo(root) {
            Ok(lines) => {
                lines.iter().for_each(|l| println!("{l}"));
                ExitCode::SUCCESS
            }
            Err(e) => fail(&format!("podman-setup --undo: {e}")),
        };
    }
    let lib = match lib.map(Ok).unwrap_or_else(library) {
        Ok(p) if p.is_file() => p.canonicalize().unwrap_or(p),
        Ok(p) => return fail(&format!("{} is not a file", p.display())),
        Err(e) => return fail(&e),
    };
    match podman::plan(&podman::Facts::measure(lib)) {
        Err(e) => fail(&format!("podman-setup: {e}")),
        Ok(podman::Plan::Nothing(why)) => {
            println!("nothing written: {why}");
            ExitCode::SUCCESS
        }
        Ok(podman::Plan::Write(files)) => match podman::apply(root, &files) {
            Ok(lines) => {
                lines.iter().for_each(|l| println!("{l}"));
                ExitCode::SUCCESS
            }
            Err(e) => fail(&format!("podman-setup: {e}")),
        },
    }
}
