//! Typed scenario configuration.
//!
//! Owns the plain data a run is built from: the link, the two hosts (NIC,
//! socket and CPU settings) and the flows. Does not parse files: the `simnet`
//! tool reads TOML into these types and reports errors with file positions.
//! [`Scenario::validate`] re-checks the bounds the model relies on, so a
//! caller that builds a scenario in code gets an error rather than a panic.

use crate::cost::CostModel;
use crate::engine::Nanos;
use core::fmt;
use std::net::Ipv4Addr;

/// Descriptors per ring when a scenario says nothing. e1000 and e1000e
/// default to 256 (`ethtool -g`).
pub const DEFAULT_RING: u16 = 256;
/// Smallest ring the model accepts. e1000 refuses fewer than 80 descriptors
/// (`E1000_MIN_TXD`); the model allows smaller rings for teaching, but the
/// driver keeps [`crate::nic::MAX_DESC_PER_FRAME`] free for one frame.
pub const MIN_RING: u16 = 32;
/// Largest ring the model accepts: ixgbe's `IXGBE_MAX_TXD`.
pub const MAX_RING: u16 = 4096;
/// Interrupt moderation delay: e1000e `RxAbsIntDelay` default of 8 units of
/// 1.024 us.
pub const DEFAULT_IRQ_COALESCE: Nanos = 8 * 1024;
/// Frames per NAPI poll: `NAPI_POLL_WEIGHT` in `include/linux/netdevice.h`.
pub const DEFAULT_NAPI_BUDGET: u32 = 64;
/// Rx frames up to this many bytes are copied into a fresh sk_buff:
/// e1000e `copybreak` module parameter default.
pub const DEFAULT_COPYBREAK: u32 = 256;
/// Default socket buffers. Linux's `tcp_wmem`/`tcp_rmem` maxima are 4 MiB
/// and 6 MiB; 4 MiB each keeps the lesson simple.
pub const DEFAULT_SOCKBUF: u32 = 4 << 20;
/// IPv4 minimum MTU every host must accept (RFC 791: 576).
pub const MIN_MTU: u32 = 576;
/// Largest IP MTU the model accepts (jumbo frames).
pub const MAX_MTU: u32 = 9000;
/// Zero-copy send buffers a flow owns when the scenario says nothing.
pub const DEFAULT_POOL_SIZE: u32 = 8;
/// POSIX `IOV_MAX` on Linux.
pub const IOV_MAX: u32 = 1024;

/// One whole scenario: what `simnet run` executes.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub seed: u64,
    /// Virtual-time cap; reaching it ends the run with outcome `time_limit`.
    pub time_limit: Nanos,
    pub link: LinkConfig,
    /// Exactly two hosts, in the order the file names them.
    pub hosts: Vec<HostConfig>,
    pub flows: Vec<FlowConfig>,
    /// Real traffic: one host's port bridged to a TAP device, the Linux
    /// kernel playing the other host.
    pub tap: Option<TapConfig>,
}

/// `[tap]`: which host keeps its NIC, and the device its port is bridged
/// to. The other host is absent; the kernel answers at its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapConfig {
    /// Index into [`Scenario::hosts`] of the simulated host.
    pub host: usize,
    /// Interface name of the TAP device simnet creates.
    pub device: String,
}

impl TapConfig {
    /// The absent host, whose part the kernel plays.
    pub fn kernel_host(&self) -> usize {
        1 - self.host
    }
}

/// The wire between the two hosts (both directions alike).
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// Bits per second.
    pub rate_bps: u64,
    /// One-way propagation delay.
    pub delay: Nanos,
    /// IP MTU; an Ethernet frame is `mtu + 14` bytes (FCS not counted).
    pub mtu: u32,
    /// Drop-tail queue in front of the wire, in bytes; `None` = unbounded.
    pub queue: Option<u64>,
    pub faults: Faults,
}

/// Per-frame fault probabilities, drawn from the scenario's RNG.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    pub loss: f64,
    pub duplicate: f64,
    pub reorder: f64,
    pub reorder_delay: Nanos,
    pub corrupt: f64,
}

#[derive(Debug, Clone)]
pub struct HostConfig {
    pub name: String,
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    pub nic: NicConfig,
    pub socket: SocketConfig,
    pub cpu: CostModel,
}

/// NIC offloads a scenario can switch on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offloads {
    pub tx_checksum: bool,
    pub rx_checksum: bool,
    pub tso: bool,
    pub gso: bool,
    pub gro: bool,
}

#[derive(Debug, Clone)]
pub struct NicConfig {
    pub tx_ring: u16,
    pub rx_ring: u16,
    pub offloads: Offloads,
    /// Interrupt moderation delay; 0 = one interrupt per completion.
    pub irq_coalesce: Nanos,
    pub napi_budget: u32,
    pub copybreak: u32,
    pub header_split: bool,
}

impl Default for NicConfig {
    fn default() -> Self {
        NicConfig {
            tx_ring: DEFAULT_RING,
            rx_ring: DEFAULT_RING,
            offloads: Offloads::default(),
            irq_coalesce: DEFAULT_IRQ_COALESCE,
            napi_budget: DEFAULT_NAPI_BUDGET,
            copybreak: DEFAULT_COPYBREAK,
            header_split: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Congestion {
    Cubic,
    Reno,
    None,
}

#[derive(Debug, Clone)]
pub struct SocketConfig {
    pub sndbuf: u32,
    pub rcvbuf: u32,
    pub nagle: bool,
    pub congestion: Congestion,
}

impl Default for SocketConfig {
    fn default() -> Self {
        SocketConfig {
            sndbuf: DEFAULT_SOCKBUF,
            rcvbuf: DEFAULT_SOCKBUF,
            nagle: false,
            congestion: Congestion::Cubic,
        }
    }
}

/// How the sending application hands bytes to the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendPath {
    /// `write(2)`: `copy_from_user` into kernel pages.
    Write,
    /// `writev(2)`: one copy per iovec region, one frag per region.
    Writev,
    /// `send(MSG_ZEROCOPY)`: user pages referenced, completion on the error
    /// queue.
    MsgZerocopy,
    /// `sendfile(2)`: page-cache pages referenced, no copy.
    Sendfile,
    /// `splice(2)` file -> pipe -> socket: pipe pages referenced, no copy.
    Splice,
    /// io_uring `IORING_OP_SEND`: copies, one `io_uring_enter` per batch.
    IoUring,
    /// io_uring `IORING_OP_SEND_ZC` from registered buffers: pinned once at
    /// registration, no per-send pin.
    IoUringFixed,
    /// io_uring `IORING_OP_SEND_ZC`: pages taken per send; a result CQE
    /// (F_MORE) and a notification CQE (F_NOTIF) per request.
    IoUringSendZc,
}

impl SendPath {
    pub fn name(self) -> &'static str {
        match self {
            SendPath::Write => "write",
            SendPath::Writev => "writev",
            SendPath::MsgZerocopy => "msg_zerocopy",
            SendPath::Sendfile => "sendfile",
            SendPath::Splice => "splice",
            SendPath::IoUring => "io_uring",
            SendPath::IoUringFixed => "io_uring_fixed",
            SendPath::IoUringSendZc => "io_uring_send_zc",
        }
    }

    /// Whether the NIC reads the application's own pages (the buffer is in
    /// flight until a completion hands it back).
    pub fn zero_copy(self) -> bool {
        matches!(
            self,
            SendPath::MsgZerocopy | SendPath::IoUringFixed | SendPath::IoUringSendZc
        )
    }

    /// Whether the bytes come from the page cache, not from a user buffer.
    pub fn from_file(self) -> bool {
        matches!(self, SendPath::Sendfile | SendPath::Splice)
    }

    /// Whether requests go through an io_uring submission queue.
    pub fn io_uring(self) -> bool {
        matches!(
            self,
            SendPath::IoUring | SendPath::IoUringFixed | SendPath::IoUringSendZc
        )
    }
}

/// How the receiving application takes bytes from the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvPath {
    /// `read(2)`: `copy_to_user` from the socket's receive queue.
    Read,
    /// `readv(2)`: one copy per iovec region.
    Readv,
    /// `getsockopt(TCP_ZEROCOPY_RECEIVE)`: whole payload pages mapped into
    /// the application, the rest copied. Needs the NIC's header split.
    ZerocopyReceive,
    /// io_uring `IORING_OP_RECV` into a provided-buffer ring.
    IoUringProvided,
    /// `splice(2)` socket -> pipe -> file: no user-space copy.
    Splice,
}

impl RecvPath {
    pub fn name(self) -> &'static str {
        match self {
            RecvPath::Read => "read",
            RecvPath::Readv => "readv",
            RecvPath::ZerocopyReceive => "zerocopy_receive",
            RecvPath::IoUringProvided => "io_uring_provided",
            RecvPath::Splice => "splice",
        }
    }
}

/// When the application writes into a send buffer again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// Only once the kernel has handed it back (the correct program).
    AfterCompletion,
    /// As soon as the send call returns, even if the kernel still holds it
    /// (the lifetime bug: the wire then carries the new bytes).
    Immediately,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferKind {
    /// A fixed array (stack-like storage).
    Array,
    /// A heap `Vec<u8>`.
    Vec,
    /// A `String`: bytes that must be valid UTF-8.
    String,
    /// Reference-counted bytes: slices share one allocation.
    Bytes,
    /// A growable string the receiver reads messages into.
    DynamicString,
    /// A growable vector the receiver reads messages into.
    DynamicVector,
    /// An asio-style streambuf: prepare / commit / consume.
    Streambuf,
}

impl BufferKind {
    pub fn name(self) -> &'static str {
        match self {
            BufferKind::Array => "array",
            BufferKind::Vec => "vec",
            BufferKind::String => "string",
            BufferKind::Bytes => "bytes",
            BufferKind::DynamicString => "dynamic_string",
            BufferKind::DynamicVector => "dynamic_vector",
            BufferKind::Streambuf => "streambuf",
        }
    }

    /// Whether the receiver reads messages into a growing buffer
    /// (`read_until` a delimiter).
    pub fn dynamic(self) -> bool {
        matches!(
            self,
            BufferKind::DynamicString | BufferKind::DynamicVector | BufferKind::Streambuf
        )
    }
}

/// How the application frames messages in the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramingKind {
    /// Every message (one send call) ends with `delimiter`.
    Delimited,
    /// Every message is an 8-character hexadecimal body length, then the
    /// body (`write_size` bytes): a gather write of header and body, and a
    /// composed read of header, then body.
    LengthPrefixed,
    /// Every message is a `header`, the body (`write_size` bytes) and a
    /// `trailer`: a gather write of three regions whose header and trailer
    /// are built in temporary buffers, and a composed read of the three.
    HeaderBodyTrailer,
}

/// Bytes of a `length_prefixed` header: the body length in hex.
pub const LENGTH_PREFIX: u32 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramingConfig {
    pub kind: FramingKind,
    pub delimiter: u8,
    pub header: u32,
    pub trailer: u32,
}

impl FramingConfig {
    /// The parts of one message with a body of `body` bytes, in order.
    pub fn parts(&self, body: u64) -> Vec<u64> {
        match self.kind {
            FramingKind::Delimited => vec![body],
            FramingKind::LengthPrefixed => vec![LENGTH_PREFIX as u64, body],
            FramingKind::HeaderBodyTrailer => {
                vec![self.header as u64, body, self.trailer as u64]
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Page-aligned (4 KiB): a buffer of n pages spans n pages.
    Page,
    /// 64-byte aligned: the buffer starts inside a page, so it spans one
    /// more page than its length needs.
    Cacheline,
    /// No alignment promise (8 bytes, as malloc gives at least).
    None,
}

impl Align {
    /// Offset of the buffer's first byte within its first page.
    pub fn page_offset(self) -> u64 {
        match self {
            Align::Page => 0,
            Align::Cacheline => 64,
            Align::None => 8,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    /// No pool: a buffer allocated per call, freed when done with.
    None,
    /// `pool_size` buffers allocated up front; wait when all are in use.
    Fixed,
    /// Allocate on demand, keep every buffer for reuse.
    Dynamic,
    /// A per-thread cache of up to `pool_size` free buffers.
    ThreadLocal,
    /// Allocate on demand up to `pool_size`, then wait for one to return.
    Recycling,
}

impl PoolKind {
    pub fn name(self) -> &'static str {
        match self {
            PoolKind::None => "none",
            PoolKind::Fixed => "fixed",
            PoolKind::Dynamic => "dynamic",
            PoolKind::ThreadLocal => "thread_local",
            PoolKind::Recycling => "recycling",
        }
    }
}

#[derive(Debug, Clone)]
pub struct BufferConfig {
    pub kind: BufferKind,
    pub align: Align,
    pub pool: PoolKind,
    pub pool_size: u32,
    pub reuse: Reuse,
}

impl Default for BufferConfig {
    fn default() -> Self {
        BufferConfig {
            kind: BufferKind::Vec,
            align: Align::Page,
            pool: PoolKind::Fixed,
            pool_size: DEFAULT_POOL_SIZE,
            reuse: Reuse::AfterCompletion,
        }
    }
}

/// One TCP connection and its workload.
#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// Index into [`Scenario::hosts`] of the sending host.
    pub from: usize,
    /// Index of the receiving host.
    pub to: usize,
    pub port: u16,
    pub bytes: u64,
    pub write_size: u32,
    pub read_size: u32,
    pub send: SendPath,
    pub recv: RecvPath,
    /// Regions per call for `writev`/`readv` (1..=IOV_MAX).
    pub iovecs: u32,
    pub buffer: BufferConfig,
    /// Message framing, if the application frames its stream.
    pub framing: Option<FramingConfig>,
    /// The receiving application writes back everything it reads, and the
    /// sending one reads it back and checks it (an echo server and client).
    pub echo: bool,
}

/// A scenario the model cannot run, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Scenario {
    /// Two hosts, `sender` (192.168.69.1) and `receiver` (192.168.69.2), on a
    /// 10 Gbit/s, 10 us link with every other setting at its default, and
    /// one flow of `bytes` in `write_size` calls on `send`. A starting point
    /// for scenarios built in code.
    pub fn two_hosts(bytes: u64, write_size: u32, send: SendPath) -> Scenario {
        let host = |name: &str, last: u8| HostConfig {
            name: name.into(),
            address: Ipv4Addr::new(192, 168, 69, last),
            prefix_len: 24,
            nic: NicConfig::default(),
            socket: SocketConfig::default(),
            cpu: CostModel::default(),
        };
        Scenario {
            name: "two_hosts".into(),
            description: String::new(),
            seed: 1,
            time_limit: 10_000_000_000,
            link: LinkConfig {
                rate_bps: 10_000_000_000,
                delay: 10_000,
                mtu: 1500,
                queue: None,
                faults: Faults::default(),
            },
            hosts: vec![host("sender", 1), host("receiver", 2)],
            flows: vec![FlowConfig {
                from: 0,
                to: 1,
                port: 5001,
                bytes,
                write_size,
                read_size: 65536,
                send,
                recv: RecvPath::Read,
                iovecs: 1,
                buffer: BufferConfig::default(),
                framing: None,
                echo: false,
            }],
            tap: None,
        }
    }

    /// Checks the bounds the model relies on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |s: String| Err(ConfigError(s));
        if self.hosts.len() != 2 {
            return err(format!(
                "a scenario has exactly two hosts, this one has {}",
                self.hosts.len()
            ));
        }
        if self.hosts[0].address == self.hosts[1].address {
            return err("the two hosts have the same address".into());
        }
        if !(MIN_MTU..=MAX_MTU).contains(&self.link.mtu) {
            return err(format!(
                "link.mtu {} is outside {MIN_MTU}..={MAX_MTU}",
                self.link.mtu
            ));
        }
        if self.link.rate_bps == 0 {
            return err("link.rate must be above zero".into());
        }
        if self.flows.is_empty() {
            return err("a scenario needs at least one [[flow]]".into());
        }
        for h in &self.hosts {
            for (what, n) in [("tx_ring", h.nic.tx_ring), ("rx_ring", h.nic.rx_ring)] {
                if !(MIN_RING..=MAX_RING).contains(&n) {
                    return err(format!(
                        "hosts.{}.nic.{what} {n} is outside {MIN_RING}..={MAX_RING}",
                        h.name
                    ));
                }
            }
            if h.nic.napi_budget == 0 {
                return err(format!(
                    "hosts.{}.nic.napi_budget must be above zero",
                    h.name
                ));
            }
            if h.nic.offloads.tso && !h.nic.offloads.tx_checksum {
                return err(format!(
                    "hosts.{}.nic.offload: \"tso\" needs \"tx-checksum\" (Linux drops TSO \
                     from a device without checksum offload); add \"tx-checksum\", or use \
                     \"gso\" for segmentation in software",
                    h.name
                ));
            }
            if h.socket.sndbuf < 4096 || h.socket.rcvbuf < 4096 {
                return err(format!(
                    "hosts.{}.socket buffers must be at least 4KiB",
                    h.name
                ));
            }
        }
        let mut ports = Vec::new();
        for (i, f) in self.flows.iter().enumerate() {
            if f.from >= 2 || f.to >= 2 || f.from == f.to {
                return err(format!(
                    "flow {i}: from and to must name the two different hosts"
                ));
            }
            if f.bytes == 0 || f.write_size == 0 || f.read_size == 0 {
                return err(format!(
                    "flow {i}: bytes, write_size and read_size must be above zero"
                ));
            }
            if f.port == 0 || ports.contains(&f.port) {
                return err(format!("flow {i}: port {} is zero or used twice", f.port));
            }
            ports.push(f.port);
            if f.iovecs == 0 || f.iovecs > IOV_MAX {
                return err(format!("flow {i}: iovecs must be in 1..={IOV_MAX}"));
            }
            if f.recv == RecvPath::ZerocopyReceive && !self.hosts[f.to].nic.header_split {
                return err(format!(
                    "flow {i}: recv = \"zerocopy_receive\" needs hosts.{}.nic.header_split = true \
                     (TCP_ZEROCOPY_RECEIVE maps whole payload pages, which only header split \
                     leaves page-aligned)",
                    self.hosts[f.to].name
                ));
            }
            if f.send == SendPath::IoUringFixed && f.buffer.pool != PoolKind::Fixed {
                return err(format!(
                    "flow {i}: send = \"io_uring_fixed\" registers its buffers once, so it needs \
                     buffer.pool = \"fixed\""
                ));
            }
            if f.buffer.kind.dynamic() && f.framing.is_none() {
                return err(format!(
                    "flow {i}: buffer.kind = {:?} reads messages with read_until, so it needs \
                     [flow.framing] kind = \"delimited\"",
                    f.buffer.kind.name()
                ));
            }
            if let Some(fr) = f.framing {
                if fr.kind != FramingKind::Delimited
                    && !matches!(f.send, SendPath::Write | SendPath::Writev)
                {
                    return err(format!(
                        "flow {i}: framing with header parts is a gather write: it needs \
                         send = \"write\" or \"writev\""
                    ));
                }
                if fr.kind == FramingKind::HeaderBodyTrailer && (fr.header == 0 || fr.trailer == 0)
                {
                    return err(format!(
                        "flow {i}: header_body_trailer needs a header and a trailer of at least \
                         one byte"
                    ));
                }
                if fr.kind == FramingKind::Delimited && f.buffer.kind.dynamic() {
                    // read_until: fine.
                } else if f.buffer.kind.dynamic() {
                    return err(format!(
                        "flow {i}: buffer.kind = {:?} reads with read_until, which needs \
                         framing kind = \"delimited\"",
                        f.buffer.kind.name()
                    ));
                }
                if fr.delimiter.is_ascii_alphanumeric()
                    || fr.delimiter == b'-'
                    || fr.delimiter == b'.'
                {
                    return err(format!(
                        "flow {i}: framing.delimiter {:?} also occurs in the data (letters, \
                         digits, '-' and '.'); pick another byte, e.g. \"\\n\"",
                        fr.delimiter as char
                    ));
                }
            }
            if f.buffer.pool_size == 0 {
                return err(format!("flow {i}: buffer.pool_size must be above zero"));
            }
        }
        Ok(())
    }
}
