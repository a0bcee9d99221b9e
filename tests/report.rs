//! End-to-end: the report `simnet run` prints by default (one a student can
//! read: at most 100 columns, rows grouped by stage under a heading, data
//! copies apart from copybreak copies, a table of flows), the complete one
//! `--full` keeps, and `simnet explain`.

mod common;

use common::*;

fn report(args: &[&str]) -> String {
    let out = simnet(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_bundled_scenario_default_report_fits_100_columns() {
    // Not the `[tap]` ones: they need a TAP device (`brief`'s unit tests
    // cover the lines only a TAP run prints; tests/tap.rs checks its width).
    let files = bundled_scenarios(false);
    assert!(files.len() >= 15, "{files:?}");
    for f in files {
        let text = report(&["run", f.to_str().unwrap(), "--no-pcap"]);
        assert!(text.contains("\nhost "), "{}: {text}", f.display());
        for line in text.lines() {
            assert!(
                line.chars().count() <= 100,
                "{}: a line of {} columns:\n{line}",
                f.display(),
                line.chars().count()
            );
        }
    }
}

#[test]
fn the_default_report_groups_rows_by_stage_and_tells_copybreak_from_data_copies() {
    let text = report(&["run", "scenarios/zero_copy.toml", "--no-pcap"]);
    // Each stage under a heading that says what it is, in journey order.
    let headings = [
        "  app->socket — the send call hands bytes to the kernel",
        "  socket — ",
        "  nic tx — ",
        "  napi — ",
        "  completion — the kernel lets go of zero-copy pages and tells the program",
    ];
    let sender = &text[text.find("\nhost sender").unwrap()..text.find("\nhost receiver").unwrap()];
    let mut at = 0;
    for h in headings {
        let i = sender[at..]
            .find(h)
            .unwrap_or_else(|| panic!("{h:?} in\n{sender}"));
        at += i + h.len();
    }
    // The zero-copy sender copies none of its data; its driver copies the
    // small frames (ACKs) it receives.
    assert!(
        sender.contains("  data copies: 0 B; copybreak copies of small frames: "),
        "{sender}"
    );
    let receiver = &text[text.find("\nhost receiver").unwrap()..];
    assert!(
        receiver.contains("  data copies: 64.0 MiB in "),
        "{receiver}"
    );
    // Counts read with thousands separators; the row names what it models.
    assert!(
        sender.contains("    pin ") && sender.contains("16,384"),
        "{sender}"
    );
    assert!(text.contains("simnet explain WORD"), "{text}");
}

#[test]
fn several_flows_get_a_row_each() {
    let text = report(&["run", "scenarios/incast.toml", "--no-pcap"]);
    assert!(text.contains("\nflows: 4 "), "{text}");
    for (i, s) in ["s1", "s2", "s3", "s4"].iter().enumerate() {
        let row = format!("  {i}  {s} -> receiver:500{}  write/read", i + 1);
        assert!(text.contains(&row), "{row:?} in\n{text}");
    }
    assert!(text.contains("integrity: ok for every flow"), "{text}");
    // Its drops were repaired by smoltcp, not as Linux would.
    assert!(
        text.contains("\nretransmissions: recovery is smoltcp's"),
        "{text}"
    );
    // Pools that differ get a line per flow.
    let text = report(&["run", "scenarios/pools.toml", "--no-pcap"]);
    assert!(text.contains("send buffers (recycling pool): "), "{text}");
    assert!(text.contains("send buffers (dynamic pool): "), "{text}");
}

#[test]
fn full_keeps_the_complete_table() {
    let text = report(&["run", "scenarios/zero_copy.toml", "--no-pcap", "--full"]);
    assert!(
        text.contains("  stage        kind                count       bytes        cpu  models\n"),
        "{text}"
    );
    assert!(
        text.contains("  app->socket  syscall              1024    64.0 MiB   "),
        "{text}"
    );
    assert!(
        text.contains("flow sender -> receiver:5001 (msg_zerocopy / read): 64.0 MiB sent"),
        "{text}"
    );
    // --full and --json are two different answers.
    let out = simnet(&["run", "scenarios/zero_copy.toml", "--full", "--json"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn explain_prints_the_entry_of_a_kind_a_step_or_a_kernel_function() {
    for (word, says) in [
        ("copybreak", "e1000_copybreak"),
        ("desc_writeback", "(a kind of row)"),
        ("desc_writeback", "rx_writeback"),
        (
            "tcp_clean_rtx_queue",
            "skb_free_acked (a step of the report)",
        ),
        ("e1000_copybreak", "Copybreak: a received frame shorter"),
        ("nic tx", "(a stage): the NIC reads descriptors"),
        ("interrupt", "(a CPU category"),
    ] {
        let out = simnet(&["explain", word]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{word}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains(says), "{word}: {says:?} in\n{text}");
    }
    // Several words are one (no quotes needed).
    let out = simnet(&["explain", "nic", "tx"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("(a stage)"));
}

#[test]
fn explain_refuses_an_unknown_word_with_close_matches() {
    let out = simnet(&["explain", "copybrake"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.starts_with("simnet: "), "{err}");
    assert!(err.contains("close matches: copybreak (step)"), "{err}");
    assert!(out.stdout.is_empty());
    // No word at all is a usage error too.
    assert_eq!(simnet(&["explain"]).status.code(), Some(2));
}
