//! pcapng captures of every frame that crosses a host's port.
//!
//! Owns [`Captures`], an [`Observer`] that writes one pcapng file per host
//! (`<dir>/<host>-eth0.pcapng`): a section header, one Ethernet interface
//! with nanosecond timestamps (virtual time, counted from the Unix epoch),
//! and an Enhanced Packet Block per frame, outgoing frames stamped when their
//! first bit leaves, incoming when their last bit arrives. Frames are written
//! through a large buffered writer into a temporary file in the target
//! folder, renamed into place by [`Captures::finish`]; a failed run leaves no
//! half-written capture behind.
//!
//! Does not decide what a frame is: the model hands over the bytes exactly
//! as they cross the wire. Capturing costs the model nothing: a real tap
//! (`dev_queue_xmit_nit`) would copy zero-copy frags; this one is outside
//! the modelled machine.

use std::borrow::Cow;
use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::time::Duration;

use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption, InterfaceTsResolution,
};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;
use simnet_sim::event::{Direction, Observer};
use simnet_sim::Nanos;

/// Write buffer per capture file: large enough that the disk sees few,
/// big writes.
const WRITE_BUFFER: usize = 1 << 20;

struct Sink {
    writer: Option<PcapNgWriter<BufWriter<File>>>,
    tmp: PathBuf,
    path: PathBuf,
}

/// Writes one pcapng file per host.
pub struct Captures {
    sinks: Vec<Sink>,
    error: Option<io::Error>,
}

impl Captures {
    /// Opens `<dir>/<host>-eth0.pcapng` (as a temporary file) for each host.
    pub fn create(dir: &Path, hosts: &[String], mtu: u32) -> io::Result<Captures> {
        fs::create_dir_all(dir)?;
        let mut sinks = Vec::new();
        for name in hosts {
            let path = dir.join(format!("{name}-eth0.pcapng"));
            let tmp = dir.join(format!(".{name}-eth0.pcapng.tmp"));
            let file = File::create(&tmp)?;
            let mut w = PcapNgWriter::new(BufWriter::with_capacity(WRITE_BUFFER, file))
                .map_err(io::Error::other)?;
            let idb = InterfaceDescriptionBlock {
                linktype: DataLink::ETHERNET,
                snaplen: mtu + 14,
                options: vec![
                    InterfaceDescriptionOption::IfName(Cow::Owned(format!("{name}-eth0"))),
                    InterfaceDescriptionOption::IfTsResol(InterfaceTsResolution::NANO),
                ],
            };
            w.write_pcapng_block(idb).map_err(io::Error::other)?;
            sinks.push(Sink {
                writer: Some(w),
                tmp,
                path,
            });
        }
        Ok(Captures { sinks, error: None })
    }

    /// Flushes every file and renames it into place. Returns the paths.
    /// On any error, removes the temporary files and returns the error.
    pub fn finish(mut self) -> io::Result<Vec<PathBuf>> {
        if let Some(e) = self.error.take() {
            self.discard();
            return Err(e);
        }
        let mut paths = Vec::new();
        for i in 0..self.sinks.len() {
            let Some(w) = self.sinks[i].writer.take() else {
                continue;
            };
            // Flush the buffer; the file is complete before it is renamed.
            let result = w.into_inner().into_inner().map_err(|e| e.into_error());
            if let Err(e) = result {
                self.discard();
                return Err(e);
            }
        }
        for s in &self.sinks {
            fs::rename(&s.tmp, &s.path)?;
            paths.push(s.path.clone());
        }
        Ok(paths)
    }

    fn discard(&mut self) {
        for s in &mut self.sinks {
            s.writer = None;
            let _ = fs::remove_file(&s.tmp);
        }
    }
}

impl Drop for Captures {
    fn drop(&mut self) {
        // Not finished (an error or a panic): leave nothing half-written.
        for s in &mut self.sinks {
            if s.writer.take().is_some() {
                let _ = fs::remove_file(&s.tmp);
            }
        }
    }
}

impl Observer for Captures {
    fn wants_frames(&self) -> bool {
        true
    }

    fn frame(&mut self, host: usize, time: Nanos, _dir: Direction, frame: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let Some(w) = self.sinks.get_mut(host).and_then(|s| s.writer.as_mut()) else {
            return;
        };
        let epb = EnhancedPacketBlock {
            interface_id: 0,
            timestamp: Duration::from_nanos(time),
            original_len: frame.len() as u32,
            data: Cow::Borrowed(frame),
            options: Vec::new(),
        };
        if let Err(e) = w.write_pcapng_block(epb) {
            self.error = Some(io::Error::other(e));
        }
    }
}
