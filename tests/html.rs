//! The HTML report rendered by a real browser: headless Chromium loads it
//! with no console message and no error (a script this test adds records
//! `window.onerror` and failed loads into the DOM it dumps; the page
//! itself has no script), and its screenshot is not blank. Needs
//! `chromium`: ignored by plain `cargo test`, run by `.ci/run` (which
//! installs it) with `--include-ignored`.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// Recorded into the page's root element: errors as they happen, and that
/// the page finished loading.
const PROBE: &str = r#"<script>
document.documentElement.setAttribute("data-errors", "");
window.addEventListener("error", function (e) {
  var d = document.documentElement;
  var what = e.message || (e.target && e.target.outerHTML) || e.type;
  d.setAttribute("data-errors", d.getAttribute("data-errors") + String(what) + "|");
}, true);
window.addEventListener("load", function () {
  document.documentElement.setAttribute("data-loaded", "yes");
});
</script>"#;

fn chromium(profile: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output();
    match out {
        Ok(out) => out,
        Err(e) => panic!(
            "cannot run chromium ({e}): install it (Debian: apt-get install chromium; \
             .ci/run does)"
        ),
    }
}

/// Console messages Chromium logged (every level is logged as
/// `INFO:CONSOLE`).
fn console_lines(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect()
}

#[test]
#[ignore = "needs chromium; .ci/run installs it and runs ignored tests"]
fn chromium_renders_the_html_report_without_errors_and_not_blank() {
    let dir = tempfile::tempdir().unwrap();
    for scenario in ["scenarios/copy.toml", "scenarios/incast.toml"] {
        let name = Path::new(scenario).file_stem().unwrap().to_str().unwrap();
        let html = dir.path().join(format!("{name}.html"));
        let out = simnet(&[
            "run",
            scenario,
            "--no-pcap",
            "--html",
            html.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{scenario}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let page = std::fs::read_to_string(&html).unwrap();
        // The page as written, with the probe first in <head>.
        let probed = dir.path().join(format!("{name}-probed.html"));
        std::fs::write(
            &probed,
            page.replacen("<head>", &format!("<head>{PROBE}"), 1),
        )
        .unwrap();
        let url = format!("file://{}", probed.display());
        let profile = dir.path().join(format!("profile-{name}"));
        let out = chromium(&profile, &["--dump-dom", &url]);
        let dom = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{name}: chromium failed: {dom}");
        assert!(
            dom.contains("data-loaded=\"yes\""),
            "{name}: the page did not load"
        );
        assert!(
            dom.contains("data-errors=\"\""),
            "{name}: errors: {}",
            &dom[..400.min(dom.len())]
        );
        let console = console_lines(&out.stderr);
        assert!(console.is_empty(), "{name}: console: {console:#?}");
        // The screenshot: the page as written, not one colour.
        let png = dir.path().join(format!("{name}.png"));
        let shot = format!("--screenshot={}", png.display());
        let url = format!("file://{}", html.display());
        let out = chromium(&profile, &[&shot, "--window-size=1200,2400", &url]);
        assert!(out.status.success(), "{name}: no screenshot");
        let console = console_lines(&out.stderr);
        assert!(console.is_empty(), "{name}: console: {console:#?}");
        let colours = distinct_colours(&png);
        assert!(colours > 16, "{name}: the screenshot has {colours} colours");
    }
}

/// How many different pixel values the PNG at `path` holds (counted up to
/// a few hundred).
fn distinct_colours(path: &Path) -> usize {
    let file = std::fs::File::open(path).expect("a screenshot");
    let decoder = png::Decoder::new(std::io::BufReader::new(file));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let bytes = &buf[..info.buffer_size()];
    let px = info.color_type.samples()
        * if info.bit_depth == png::BitDepth::Sixteen {
            2
        } else {
            1
        };
    let mut seen = std::collections::BTreeSet::new();
    for p in bytes.chunks(px.max(1)) {
        seen.insert(p.to_vec());
        if seen.len() > 500 {
            break;
        }
    }
    seen.len()
}
