//! pcapng captures of every frame that crosses a host's port.
//!
//! Owns [`Captures`], an [`Observer`] that writes one pcapng file per host
//! (`<dir>/<host>-eth0.pcapng`): a section header, one Ethernet interface
//! with nanosecond timestamps (virtual time, counted from the Unix epoch),
//! and an Enhanced Packet Block per frame, outgoing frames stamped when their
//! first bit leaves (after any `[link] queue` they waited in; the model
//! hands them over then, and not at all if the queue dropped them),
//! incoming when their last bit arrives, so stamps never go backwards
//! within a file. Each Enhanced Packet Block carries the frame's comment
//! ([`crate::comment`]): whose bytes, which ring slots, what the wire and
//! NAPI did.
//!
//! The model's thread only gathers frames: their bytes and what the model
//! said of them go into 64 KiB chunks, and a writer thread, on the other
//! core, writes each comment, encodes the packet blocks and writes them into
//! a temporary file in the target folder, renamed into place by
//! [`Captures::finish`]; a failed run leaves no half-written capture behind.
//! pcap-file writes the section header and the interface; the packet blocks
//! are encoded here (pcap-file takes a block's options as a `Vec`, one
//! allocation per frame). Chunks and the writer's buffers are reused: no
//! allocation per frame.
//!
//! Each temporary file is created exclusively (`O_EXCL`) under a name of its
//! own run (`.<host>-eth0.XXXXXX.pcapng.tmp`, random), so runs that share a
//! folder never write into each other's files. The rename is atomic: a
//! reader sees the previous file or the whole new one, and of two runs that
//! write the same capture the one that finishes last wins, whole. Each
//! temporary file is registered with [`crate::signals`] from its creation
//! to its rename, so a signal that ends the run removes it.
//!
//! Does not decide what a frame is: the model hands over the bytes exactly
//! as they cross the wire. Capturing costs the model nothing: a real tap
//! (`dev_queue_xmit_nit`) would copy zero-copy frags; this one is outside
//! the modelled machine.

use std::borrow::Cow;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::{self, JoinHandle};

use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption, InterfaceTsResolution,
};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::{DataLink, Endianness};
use simnet_sim::event::{Direction, Observer};
use simnet_sim::provenance::FrameInfo;
use simnet_sim::Nanos;
use tempfile::TempPath;

use crate::comment::{self, Comment};
use crate::signals;

/// Bytes gathered before a chunk goes to the writer thread: small enough to
/// stay in cache until the kernel copies it (4 MiB chunks measured slower).
const CHUNK: usize = 64 << 10;
/// Chunks in flight between the model and the writer thread: memory stays
/// flat (at most this many chunks) however long the run.
const CHUNKS_IN_FLIGHT: usize = 16;

/// A frame as the model handed it over: its bytes are the next `len` of
/// its chunk's `frames`.
struct Packet {
    time: Nanos,
    dir: Direction,
    len: usize,
    info: FrameInfo,
}

/// A chunk for file `file`: bytes to write as they are (the section header
/// and interface pcap-file encodes), then frames whose packet blocks the
/// writer thread encodes.
struct Chunk {
    file: usize,
    raw: Vec<u8>,
    frames: Vec<u8>,
    packets: Vec<Packet>,
}

impl Chunk {
    fn new(file: usize) -> Chunk {
        Chunk {
            file,
            raw: Vec::new(),
            frames: Vec::with_capacity(CHUNK + 16 * 1024),
            packets: Vec::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.raw.is_empty() && self.packets.is_empty()
    }

    fn clear(&mut self) {
        self.raw.clear();
        self.frames.clear();
        self.packets.clear();
    }
}

/// The model side of a capture file: frames are gathered into a chunk; full
/// chunks go to the writer thread, which encodes them and does the system
/// calls on the other core, and come back empty to be reused.
struct ChunkWriter {
    cur: Chunk,
    to_disk: SyncSender<Chunk>,
    spare: std::sync::Arc<std::sync::Mutex<Receiver<Chunk>>>,
}

impl ChunkWriter {
    fn ship(&mut self) -> io::Result<()> {
        if self.cur.is_empty() {
            return Ok(());
        }
        let file = self.cur.file;
        let next = (self.spare.lock().ok())
            .and_then(|r| r.try_recv().ok())
            .map(|c| Chunk { file, ..c })
            .unwrap_or_else(|| Chunk::new(file));
        let chunk = std::mem::replace(&mut self.cur, next);
        self.to_disk
            .send(chunk)
            .map_err(|_| io::Error::other("the capture writer thread stopped"))
    }

    /// A frame crossing the port, for the writer thread to encode.
    fn frame(
        &mut self,
        time: Nanos,
        dir: Direction,
        frame: &[u8],
        info: &FrameInfo,
    ) -> io::Result<()> {
        self.cur.frames.extend_from_slice(frame);
        self.cur.packets.push(Packet {
            time,
            dir,
            len: frame.len(),
            info: *info,
        });
        if self.cur.frames.len() >= CHUNK {
            self.ship()?;
        }
        Ok(())
    }
}

/// pcapng block type of an Enhanced Packet Block.
const EPB: u32 = 6;
/// pcapng option codes: end of options, comment.
const OPT_ENDOFOPT: u16 = 0;
const OPT_COMMENT: u16 = 1;

/// Bytes that pad `n` to a multiple of 4.
fn pad(n: usize) -> usize {
    (4 - n % 4) % 4
}

// A comment always fits an option's 16-bit length.
const _: () = assert!(comment::MAX_LEN <= u16::MAX as usize);

/// Appends to `c` an Enhanced Packet Block for interface 0: timestamp
/// `ts` (high and low words, as the interface's resolution encodes it), the
/// whole `frame`, and the comment `text` (none if empty), in byte order `big` or
/// little endian.
fn packet(c: &mut Vec<u8>, big: bool, ts: (u32, u32), frame: &[u8], text: &[u8]) {
    let options = if text.is_empty() {
        0
    } else {
        4 + text.len() + pad(text.len()) + 4
    };
    let total = (32 + frame.len() + pad(frame.len()) + options) as u32;
    let word = |v: u32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let half = |v: u16| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut head = [0u8; 28];
    let len = frame.len() as u32; // captured and original: the whole frame
    for (i, v) in [EPB, total, 0, ts.0, ts.1, len, len]
        .into_iter()
        .enumerate()
    {
        head[4 * i..4 * i + 4].copy_from_slice(&word(v));
    }
    c.extend_from_slice(&head);
    c.extend_from_slice(frame);
    c.extend_from_slice(&[0; 3][..pad(frame.len())]);
    if !text.is_empty() {
        let mut opt = [0u8; 4];
        opt[..2].copy_from_slice(&half(OPT_COMMENT));
        opt[2..].copy_from_slice(&half(text.len() as u16));
        c.extend_from_slice(&opt);
        c.extend_from_slice(text);
        // Padding, then opt_endofopt (code 0, length 0), then the
        // block's length again.
        let mut tail = [0u8; 11];
        let n = pad(text.len());
        tail[n..n + 2].copy_from_slice(&half(OPT_ENDOFOPT));
        tail[n + 4..n + 8].copy_from_slice(&word(total));
        c.extend_from_slice(&tail[..n + 8]);
    } else {
        c.extend_from_slice(&word(total));
    }
}

/// pcap-file's blocks (the section header and the interface), written as
/// they are.
impl Write for ChunkWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.cur.packets.is_empty() {
            self.ship()?; // after the frames before them
        }
        self.cur.raw.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.ship()
    }
}

struct Sink {
    writer: Option<PcapNgWriter<ChunkWriter>>,
    /// The temporary file: removed when dropped, unless renamed into place.
    tmp: Option<Temporary>,
    path: PathBuf,
}

/// Writes one pcapng file per host.
pub struct Captures {
    /// By host; `None` for a host with no port to capture.
    sinks: Vec<Option<Sink>>,
    thread: Option<JoinHandle<io::Result<()>>>,
    error: Option<io::Error>,
}

/// The writer thread: encodes each chunk's packet blocks with their
/// comments (file `i` in byte order `big[i]`), writes them to their files
/// in order, hands the emptied chunks back.
fn write_chunks(
    mut files: Vec<File>,
    big: Vec<bool>,
    chunks: Receiver<Chunk>,
    spare: SyncSender<Chunk>,
) -> io::Result<()> {
    let mut out = Vec::with_capacity(2 * CHUNK);
    let mut text = Box::<Comment>::default();
    for mut c in chunks {
        out.clear();
        out.extend_from_slice(&c.raw);
        let mut at = 0;
        for p in &c.packets {
            let frame = &c.frames[at..at + p.len];
            at += p.len;
            comment::write(&mut text, p.dir, frame, &p.info);
            // The interface counts nanoseconds from the epoch (`IfTsResol`
            // NANO, no offset): the timestamp is the virtual time itself.
            let ts = ((p.time >> 32) as u32, p.time as u32);
            packet(&mut out, big[c.file], ts, frame, text.as_bytes());
        }
        files[c.file].write_all(&out)?;
        c.clear();
        let _ = spare.try_send(c);
    }
    for f in &mut files {
        f.flush()?;
    }
    Ok(())
}

impl Captures {
    /// Opens `<dir>/<host>-eth0.pcapng` (as a temporary file) for each host.
    pub fn create(dir: &Path, hosts: &[String], mtu: u32) -> io::Result<Captures> {
        let hosts: Vec<Option<&str>> = hosts.iter().map(|h| Some(h.as_str())).collect();
        Captures::create_some(dir, &hosts, mtu)
    }

    /// [`Captures::create`] for the hosts that are `Some` (host `i`'s frames
    /// go to `hosts[i]`'s file; a `None` host has no port to capture, like
    /// the kernel's side of a TAP run).
    pub fn create_some(dir: &Path, hosts: &[Option<&str>], mtu: u32) -> io::Result<Captures> {
        fs::create_dir_all(dir)?;
        let (to_disk, chunks) = mpsc::sync_channel(CHUNKS_IN_FLIGHT);
        let (spare_tx, spare_rx) = mpsc::sync_channel(CHUNKS_IN_FLIGHT + hosts.len());
        let spare = std::sync::Arc::new(std::sync::Mutex::new(spare_rx));
        let mut files = Vec::new();
        let mut big = Vec::new();
        let mut sinks = Vec::new();
        for name in hosts {
            let Some(name) = name else {
                sinks.push(None);
                continue;
            };
            let path = dir.join(format!("{name}-eth0.pcapng"));
            let (file, tmp) = Temporary::create(dir, name)?;
            files.push(file);
            let chunk_writer = ChunkWriter {
                cur: Chunk::new(files.len() - 1),
                to_disk: to_disk.clone(),
                spare: spare.clone(),
            };
            let mut w = PcapNgWriter::new(chunk_writer).map_err(io::Error::other)?;
            big.push(w.section().endianness == Endianness::Big);
            let idb = InterfaceDescriptionBlock {
                linktype: DataLink::ETHERNET,
                snaplen: mtu + 14,
                options: vec![
                    InterfaceDescriptionOption::IfName(Cow::Owned(format!("{name}-eth0"))),
                    InterfaceDescriptionOption::IfTsResol(InterfaceTsResolution::NANO),
                ],
            };
            w.write_pcapng_block(idb).map_err(io::Error::other)?;
            sinks.push(Some(Sink {
                writer: Some(w),
                tmp: Some(tmp),
                path,
            }));
        }
        drop(to_disk);
        let thread = thread::Builder::new()
            .name("simnet-capture".into())
            .spawn(move || write_chunks(files, big, chunks, spare_tx))?;
        Ok(Captures {
            sinks,
            thread: Some(thread),
            error: None,
        })
    }

    /// Flushes every file and renames it into place. Returns the paths.
    /// On any error, removes the temporary files and returns the error.
    pub fn finish(mut self) -> io::Result<Vec<PathBuf>> {
        let mut result = match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        };
        for s in self.sinks.iter_mut().flatten() {
            if let Some(w) = s.writer.take() {
                let mut cw = w.into_inner();
                if result.is_ok() {
                    result = cw.flush();
                }
            }
        }
        // Every sender is gone: the thread drains the queue and ends.
        if let Some(t) = self.thread.take() {
            let joined = t
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the capture writer thread panicked")));
            if result.is_ok() {
                result = joined;
            }
        }
        if let Err(e) = result {
            self.discard();
            return Err(e);
        }
        // Every file is whole: rename each into place (replacing a file of
        // that name atomically). If one rename fails, the files not yet
        // renamed are removed when `self` drops.
        let mut paths = Vec::new();
        // One lock for every rename: a signal finds all or none in place.
        let mut registry = signals::temporaries();
        for s in self.sinks.iter_mut().flatten() {
            if let Some(tmp) = s.tmp.take() {
                tmp.persist(&s.path, &mut registry)?;
            }
            paths.push(s.path.clone());
        }
        drop(registry);
        self.sinks.clear();
        Ok(paths)
    }

    fn discard(&mut self) {
        for s in self.sinks.iter_mut().flatten() {
            s.writer = None;
        }
        // Each temporary file is removed as its sink drops.
        self.sinks.clear();
    }
}

/// A temporary capture file, registered with [`signals`] from its creation
/// until it is renamed into place, or removed when dropped.
struct Temporary(Option<TempPath>);

impl Temporary {
    /// A new temporary file for `host`'s capture in `dir`, created
    /// exclusively under a random name no other run can be using.
    fn create(dir: &Path, host: &str) -> io::Result<(File, Temporary)> {
        let mut registry = signals::temporaries();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{host}-eth0."))
            .suffix(".pcapng.tmp")
            // As `File::create` would: what the umask allows.
            .permissions(fs::Permissions::from_mode(0o666))
            .tempfile_in(dir)?;
        registry.add(tmp.path());
        let (file, path) = tmp.into_parts();
        Ok((file, Temporary(Some(path))))
    }

    /// Renames the file to `path` (replacing a file of that name
    /// atomically); on failure the file is removed.
    fn persist(mut self, path: &Path, registry: &mut signals::Temporaries) -> io::Result<()> {
        let Some(tmp) = self.0.take() else {
            return Ok(());
        };
        registry.remove(&tmp);
        // A failed rename hands the path back; dropping it removes the file.
        tmp.persist(path).map_err(|e| e.error)
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if let Some(tmp) = self.0.take() {
            let mut registry = signals::temporaries();
            registry.remove(&tmp);
            // Dropping a temporary path removes its file.
            drop(tmp);
        }
    }
}

impl Drop for Captures {
    fn drop(&mut self) {
        // Not finished (an error or a panic): leave nothing half-written.
        for s in self.sinks.iter_mut().flatten() {
            s.writer = None;
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // Each temporary file is removed as its sink drops.
        self.sinks.clear();
    }
}

impl Observer for Captures {
    fn wants_frames(&self) -> bool {
        true
    }

    fn frame(&mut self, host: usize, time: Nanos, dir: Direction, frame: &[u8], info: &FrameInfo) {
        if self.error.is_some() {
            return;
        }
        let Some(w) = self
            .sinks
            .get_mut(host)
            .and_then(|s| s.as_mut()?.writer.as_mut())
        else {
            return;
        };
        if let Err(e) = w.get_mut().frame(time, dir, frame, info) {
            self.error = Some(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption;
    use pcap_file::pcapng::blocks::opt_common::CommonOption;
    use pcap_file::pcapng::{Block, PcapNgReader};
    use simnet_sim::provenance::Rx;

    #[test]
    fn packet_blocks_read_back_with_their_bytes_time_and_comment() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Captures::create(dir.path(), &["a".into()], 1500).unwrap();
        let info = FrameInfo {
            tx_slot: Some(7),
            ..FrameInfo::default()
        };
        let rx = FrameInfo {
            rx: Rx::RingDrop,
            ..FrameInfo::default()
        };
        // Lengths that need each amount of padding; a time past 2^32 ns.
        let frames: Vec<Vec<u8>> = (0..4).map(|k| vec![k as u8; 61 + k]).collect();
        let times = [1, 5_000_000_000, 5_000_000_001, u32::MAX as u64 * 7];
        for (k, f) in frames.iter().enumerate() {
            let (dir, info) = if k % 2 == 0 {
                (Direction::Out, &info)
            } else {
                (Direction::In, &rx)
            };
            c.frame(0, times[k], dir, f, info);
        }
        let paths = c.finish().unwrap();
        let mut r = PcapNgReader::new(std::fs::File::open(&paths[0]).unwrap()).unwrap();
        let mut seen = Vec::new();
        while let Some(block) = r.next_block() {
            if let (Block::EnhancedPacket(p), _) = block.unwrap() {
                let comments: Vec<String> = (p.options.iter())
                    .filter_map(|o| match o {
                        EnhancedPacketOption::Common(CommonOption::Comment(c)) => {
                            Some(c.to_string())
                        }
                        _ => None,
                    })
                    .collect();
                seen.push((p.data.to_vec(), p.timestamp.as_nanos() as u64, comments));
            }
        }
        assert_eq!(seen.len(), 4);
        for (k, (data, time, comments)) in seen.iter().enumerate() {
            assert_eq!(data, &frames[k]);
            assert_eq!(*time, times[k]);
            let want = if k % 2 == 0 {
                "not TCP; tx slot 7"
            } else {
                "not TCP; rx ring full: dropped"
            };
            assert_eq!(comments, &[want.to_string()]);
        }
    }
}
