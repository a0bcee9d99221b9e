//! The path a byte takes, drawn as an SVG diagram for the HTML report.
//!
//! Owns [`diagram`]: from the application buffer through the socket
//! buffer, segmentation and checksum, the Tx ring, the NIC's DMA and the
//! wire, to the Rx ring, the sk_buff and the receiving application. Each
//! edge is labelled with the steps the model counted there (count and
//! bytes, from the report's stage rows of the sending host for the first
//! five edges and of the receiving host for the rest); an edge where the
//! CPU copied bytes is drawn red and says so.
//!
//! Does not compute anything the report does not hold; a host's rows sum
//! over every flow it carries, as the report's do.

use std::fmt::Write as _;

use simnet_sim::event::{Counters, Kind, Step};

use super::escape;
use crate::output::human_bytes;

/// The diagram's stations, in the order a byte meets them.
const NODES: [&str; 9] = [
    "application buffer",
    "socket buffer (sk_buff write queue)",
    "segmentation and checksum",
    "Tx descriptor ring",
    "NIC DMA",
    "wire",
    "Rx descriptor ring",
    "sk_buff (receive queue)",
    "application",
];

/// Which host's rows an edge reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Sender,
    Receiver,
}

/// The steps counted on each edge (edge `i` leads from node `i` to `i+1`).
const EDGES: [(Side, &[Step]); 8] = [
    (
        Side::Sender,
        &[
            Step::WriteSyscall,
            Step::SendmsgSyscall,
            Step::WritevSyscall,
            Step::SendfileSyscall,
            Step::SpliceSyscall,
            Step::IoUringEnter,
            Step::CopyFromUser,
            Step::GetUserPages,
            Step::IoUringImportFixed,
            Step::PageCacheRef,
        ],
    ),
    (
        Side::Sender,
        &[Step::SkbAlloc, Step::TcpXmit, Step::TcpRetransmit],
    ),
    (
        Side::Sender,
        &[
            Step::GsoSegment,
            Step::TxChecksum,
            Step::ZerocopyChecksumCopy,
            Step::TxDescPost,
        ],
    ),
    (
        Side::Sender,
        &[
            Step::TxDescFetch,
            Step::TxDmaRead,
            Step::TsoSegment,
            Step::TxChecksumOffload,
        ],
    ),
    (Side::Sender, &[Step::WireTx]),
    (
        Side::Receiver,
        &[
            Step::WireRx,
            Step::RxRingDrop,
            Step::HeaderSplit,
            Step::RxDmaWrite,
        ],
    ),
    (
        Side::Receiver,
        &[
            Step::Irq,
            Step::NapiPoll,
            Step::Copybreak,
            Step::RxBuildSkb,
            Step::GroMerge,
            Step::RxStack,
            Step::RxChecksum,
        ],
    ),
    (
        Side::Receiver,
        &[
            Step::ReadSyscall,
            Step::ReadvSyscall,
            Step::ZcRecvSyscall,
            Step::SpliceRecvSyscall,
            Step::CopyToUser,
            Step::VmInsertPages,
            Step::SplicePipeRef,
            Step::SpliceToFile,
            Step::DynamicGrow,
        ],
    ),
];

const BOX_W: u32 = 300;
const BOX_H: u32 = 40;
const GAP: u32 = 74;
const LEFT: u32 = 130;
const LINE: u32 = 15;

/// The diagram of the path from `sender` to `receiver` (their names and
/// counters) as an `<svg>` element.
pub fn diagram(sender: (&str, &Counters), receiver: (&str, &Counters)) -> String {
    let height = NODES.len() as u32 * (BOX_H + GAP) - GAP + 20;
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg class="path" xmlns="http://www.w3.org/2000/svg" width="960" height="{height}" viewBox="0 0 960 {height}" role="img" aria-label="the path of the bytes">"##
    );
    s.push_str(
        r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker><marker id="arrow-copy" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#c62828"/></marker></defs>"##,
    );
    let top = |i: usize| 10 + i as u32 * (BOX_H + GAP);
    // Which host each station is on.
    let brace = |s: &mut String, from: usize, to: usize, name: &str| {
        let (y0, y1) = (top(from), top(to) + BOX_H);
        let _ = write!(
            s,
            r##"<path d="M{x},{y0} h-8 V{y1} h8" fill="none" stroke="#999"/><text x="{tx}" y="{ty}" text-anchor="end" class="host">{}</text>"##,
            escape(name),
            x = LEFT - 12,
            tx = LEFT - 26,
            ty = (y0 + y1) / 2 + 4,
        );
    };
    brace(&mut s, 0, 4, sender.0);
    brace(&mut s, 6, 8, receiver.0);
    for (i, name) in NODES.iter().enumerate() {
        let class = if i == 5 { "node wire" } else { "node" };
        let _ = write!(
            s,
            r##"<rect x="{LEFT}" y="{}" width="{BOX_W}" height="{BOX_H}" rx="6" class="{class}"/><text x="{}" y="{}" text-anchor="middle" class="node-label">{name}</text>"##,
            top(i),
            LEFT + BOX_W / 2,
            top(i) + BOX_H / 2 + 5,
        );
    }
    for (i, (side, steps)) in EDGES.iter().enumerate() {
        let counters = match side {
            Side::Sender => sender.1,
            Side::Receiver => receiver.1,
        };
        let rows: Vec<(Step, u64, u64)> = (steps.iter())
            .map(|&st| (st, counters.get(st).count, counters.get(st).bytes))
            .filter(|r| r.1 > 0)
            .collect();
        let copies = rows.iter().any(|r| r.0.kind() == Kind::Copy);
        let (y0, y1) = (top(i) + BOX_H, top(i + 1));
        let x = LEFT + BOX_W / 2;
        let (class, marker) = if copies {
            ("edge copy", "arrow-copy")
        } else {
            ("edge", "arrow")
        };
        let _ = write!(
            s,
            r##"<line x1="{x}" y1="{y0}" x2="{x}" y2="{}" class="{class}" marker-end="url(#{marker})"/>"##,
            y1 - 2
        );
        let tx = x + 16;
        let mut ty = y0 + 16;
        if rows.is_empty() {
            let _ = write!(
                s,
                r##"<text x="{tx}" y="{ty}" class="edge-label none">nothing counted here</text>"##
            );
        }
        for (st, count, bytes) in rows.iter().take(4) {
            let copy = st.kind() == Kind::Copy;
            let bytes = if *bytes > 0 {
                format!(", {}", human_bytes(*bytes))
            } else {
                String::new()
            };
            let _ = write!(
                s,
                r##"<text x="{tx}" y="{ty}" class="edge-label{}">{}{} ×{count}{bytes}</text>"##,
                if copy { " copy" } else { "" },
                if copy { "CPU COPY: " } else { "" },
                escape(&step_name(*st)),
            );
            ty += LINE;
        }
        if rows.len() > 4 {
            let _ = write!(
                s,
                r##"<text x="{tx}" y="{ty}" class="edge-label none">and {} more steps (see the stage table)</text>"##,
                rows.len() - 4
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// A step's name for a label: what it models, and its kind.
fn step_name(st: Step) -> String {
    format!("{} [{}]", st.models(), st.kind().name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_red_and_every_station_is_drawn() {
        let mut tx = Counters::default();
        tx.add(Step::WriteSyscall, 4, 4096, 10);
        tx.add(Step::CopyFromUser, 4, 4096, 10);
        tx.add(Step::WireTx, 3, 4200, 0);
        let mut rx = Counters::default();
        rx.add(Step::VmInsertPages, 1, 4096, 10);
        let svg = diagram(("a<b", &tx), ("c", &rx));
        for n in NODES {
            assert!(svg.contains(n), "{n}");
        }
        assert!(svg.contains("a&lt;b"), "host names are escaped");
        assert!(svg.contains("CPU COPY: copy_from_user"));
        assert_eq!(svg.matches("class=\"edge copy\"").count(), 1);
        assert!(svg.contains("vm_insert_pages [map] ×1, 4.0 KiB"), "{svg}");
        assert!(svg.contains("nothing counted here"));
    }
}
