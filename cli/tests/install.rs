//! `make install DESTDIR=... PREFIX=...` puts every file where it belongs, the installed
//! command and script find the installed library, and `make uninstall` removes them again.
//! Uses what is built (NOBUILD=1): the gvnet binary of this test run and libgvnet.so next to it
//! (`cargo build --release` builds both).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn make(target: &str, destdir: &Path, build_dir: &Path) -> String {
    let out = Command::new("make")
        .arg("-C")
        .arg(root())
        .arg(target)
        .arg("NOBUILD=1")
        .arg(format!("DESTDIR={}", destdir.display()))
        .arg("PREFIX=/opt/gvnet-test")
        .arg(format!("BUILD_DIR={}", build_dir.display()))
        .output()
        .expect("running make (Debian: make)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "make {target} failed:\n{text}");
    text
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn install_puts_files_in_place_and_uninstall_removes_them() {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_gvnet"));
    let build_dir = exe.parent().unwrap().to_path_buf();
    assert!(
        build_dir.join("libgvnet.so").is_file(),
        "{} has no libgvnet.so: cargo build {} first",
        build_dir.display(),
        if build_dir.ends_with("release") {
            "--release"
        } else {
            ""
        }
    );
    let dest = std::env::temp_dir().join(format!("gvnet-install-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dest);
    fs::create_dir_all(&dest).unwrap();
    make("install", &dest, &build_dir);

    let p = |rel: &str| dest.join(rel.trim_start_matches('/'));
    let expected = [
        ("/opt/gvnet-test/bin/gvnet", 0o755),
        ("/opt/gvnet-test/bin/gvnet-dockerd", 0o755),
        ("/opt/gvnet-test/lib/gvnet/libgvnet.so", 0o644),
        ("/etc/systemd/system/docker.service.d/gvnet.conf", 0o644),
        ("/etc/default/gvnet", 0o644),
    ];
    for (f, m) in expected {
        assert_eq!(mode(&p(f)), m, "{f}");
    }
    assert_eq!(
        fs::read(p("/opt/gvnet-test/lib/gvnet/libgvnet.so")).unwrap(),
        fs::read(build_dir.join("libgvnet.so")).unwrap()
    );
    // The drop-in and the settings name the installed paths (without DESTDIR), no placeholder.
    let dropin = fs::read_to_string(p("/etc/systemd/system/docker.service.d/gvnet.conf")).unwrap();
    assert!(
        dropin.contains(
            "\nExecStart=\nExecStart=/opt/gvnet-test/bin/gvnet-dockerd -- $GVNET_DOCKERD_OPTS\n"
        ),
        "{dropin}"
    );
    assert!(
        dropin.contains("EnvironmentFile=-/etc/default/gvnet"),
        "{dropin}"
    );
    let settings = fs::read_to_string(p("/etc/default/gvnet")).unwrap();
    assert!(
        settings.contains("\nGVNET_LIB=/opt/gvnet-test/lib/gvnet/libgvnet.so\n"),
        "{settings}"
    );
    for text in [&dropin, &settings] {
        assert!(!text.contains('@'), "unsubstituted placeholder in:\n{text}");
        assert!(
            !text.contains(dest.to_str().unwrap()),
            "DESTDIR leaked into:\n{text}"
        );
    }
    // The installed command finds the installed library (PREFIX/bin/../lib/gvnet), and `run`
    // preloads it.
    let gvnet = p("/opt/gvnet-test/bin/gvnet");
    let lib = Command::new(&gvnet)
        .arg("lib")
        .env_remove("GVNET_LIB")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&lib.stdout).trim(),
        p("/opt/gvnet-test/lib/gvnet/libgvnet.so")
            .canonicalize()
            .unwrap()
            .to_str()
            .unwrap()
    );
    let run = Command::new(&gvnet)
        .args(["run", "--", "sh", "-c", "echo \"$LD_PRELOAD\""])
        .env_remove("GVNET_LIB")
        .env_remove("LD_PRELOAD")
        .env("GVNET_MODE", "off")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&lib.stdout)
    );
    let help = Command::new(p("/opt/gvnet-test/bin/gvnet-dockerd"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("gvnet-dockerd [--no-preload]"));

    make("uninstall", &dest, &build_dir);
    for (f, _) in expected {
        assert!(!p(f).exists(), "{f} still there after uninstall");
    }
    assert!(!p("/opt/gvnet-test/lib/gvnet").exists());
    assert!(!p("/etc/systemd/system/docker.service.d").exists());
    fs::remove_dir_all(&dest).unwrap();
}
