//! Builds the web console (`web/`, TypeScript + Vite + OpenLayers from npm) into `web/dist`
//! when the bundle is missing or older than its sources, so that a fresh clone's
//! `cargo run --release -- serve --demo` serves it; `src/api/console.rs` embeds the result.
//! `web/dist` and `web/node_modules` are git-ignored. Needs Node 20+ and npm.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

const SOURCES: [&str; 6] = [
    "src",
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.json",
];

fn newest(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    let own = meta.modified().ok();
    if !meta.is_dir() {
        return own;
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| newest(&e.path()))
        .chain(own)
        .max()
}

fn stale(web: &Path) -> bool {
    let built = std::fs::metadata(web.join("dist/index.html")).and_then(|m| m.modified());
    let Ok(built) = built else { return true };
    SOURCES
        .iter()
        .filter_map(|s| newest(&web.join(s)))
        .any(|t| t > built)
}

fn npm(web: &Path, args: &[&str]) {
    let status = Command::new("npm")
        .args(args)
        .current_dir(web)
        .status()
        .unwrap_or_else(|e| panic!("building the web console needs npm (Node 20+): {e}"));
    assert!(
        status.success(),
        "`npm {}` in web/ failed: {status}",
        args.join(" ")
    );
}

fn main() {
    let web =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("web");
    for s in SOURCES {
        println!("cargo::rerun-if-changed=web/{s}");
    }
    if !stale(&web) {
        return;
    }
    // `cargo check` and `cargo build` may run this at once: one of them builds.
    let lock = std::fs::File::create(web.join(".build.lock")).expect("web/.build.lock");
    lock.lock().expect("locking web/.build.lock");
    if !stale(&web) {
        return;
    }
    let installed = newest(&web.join("node_modules/.package-lock.json"));
    if installed.is_none() || newest(&web.join("package-lock.json")) > installed {
        npm(&web, &["ci", "--no-audit", "--no-fund"]);
    }
    npm(&web, &["run", "build"]);
}
