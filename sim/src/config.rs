//! Typed scenario configuration.
//!
//! Owns the plain data a run is built from: the link, the hosts (NIC,
//! socket and CPU settings), the switch that joins three or more of them,
//! and the flows. Does not parse files: the `simnet`
//! tool reads TOML into these types and reports errors with file positions.
//! [`Scenario::validate`] re-checks the bounds the model relies on, so a
//! caller that builds a scenario in code gets an error rather than a panic.

pub use crate::app::recv::RecvPath;
pub use crate::app::send::SendPath;
use crate::cost::CostModel;
use crate::engine::Nanos;
use core::fmt;
use std::net::Ipv4Addr;

/// Descriptors per ring when a scenario says nothing. e1000 and e1000e
/// default to 256 (`ethtool -g`).
pub const DEFAULT_RING: u16 = 256;
/// Smallest ring the model accepts. e1000 refuses fewer than 80 descriptors
/// (`E1000_MIN_TXD`); the model allows smaller rings for teaching, but the
/// driver keeps [`crate::nic::ring::MAX_DESC_PER_FRAME`] free for one frame.
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
/// Fewest hosts a scenario has: one flow needs two ends.
pub const MIN_HOSTS: usize = 2;
/// Most hosts a scenario may have: enough for incast and many clients on a
/// server, few enough that a capture folder stays browsable.
pub const MAX_HOSTS: usize = 64;
/// Egress buffer per switch port when a scenario says nothing: 512 KiB, of
/// the order of the share of a shallow-buffered top-of-rack switch's shared
/// packet memory (a few MiB for 32-64 ports) that one congested port gets.
pub const DEFAULT_SWITCH_BUFFER: u64 = 512 << 10;
/// Switch forwarding latency when a scenario says nothing: 1 us, the order
/// of a store-and-forward top-of-rack switch's port-to-port latency on top
/// of receiving the whole frame.
pub const DEFAULT_SWITCH_LATENCY: Nanos = 1_000;

/// One whole scenario: what `simnet run` executes.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub seed: u64,
    /// Virtual-time cap; reaching it ends the run with outcome `time_limit`.
    pub time_limit: Nanos,
    /// Every link: the direct wire between two hosts, or each host's link
    /// to the switch (both directions alike).
    pub link: LinkConfig,
    /// [`MIN_HOSTS`]..=[`MAX_HOSTS`] hosts, in the order the file names them.
    pub hosts: Vec<HostConfig>,
    /// The switch every host is linked to; required for three or more
    /// hosts. Without it the two hosts share one direct wire.
    pub switch: Option<SwitchConfig>,
    pub flows: Vec<FlowConfig>,
    /// Real traffic: one host's port bridged to a TAP device, the Linux
    /// kernel playing the other host.
    pub tap: Option<TapConfig>,
}

/// `[tap]`: which host keeps its NIC, and the device its port is bridged
/// to. The other host is absent; the kernel answers at its address. Only a
/// two-host scenario without a switch can have one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapConfig {
    /// Name of the simulated host.
    pub host: String,
    /// Interface name of the TAP device simnet creates.
    pub device: String,
}

/// `[switch]`: one store-and-forward switch every host is linked to. It
/// forwards by the scenario's addresses (a static table, nothing learnt)
/// and has a drop-tail FIFO per egress port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchConfig {
    /// Bytes each egress port may hold waiting for its link.
    pub buffer: u64,
    /// From a frame's last bit in to its place in the egress queue.
    pub latency: Nanos,
}

impl Default for SwitchConfig {
    fn default() -> Self {
        SwitchConfig {
            buffer: DEFAULT_SWITCH_BUFFER,
            latency: DEFAULT_SWITCH_LATENCY,
        }
    }
}

/// A wire: between the two hosts, or between a host and the switch (both
/// directions alike).
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
    /// Name of the sending host.
    pub from: String,
    /// Name of the receiving host.
    pub to: String,
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

/// A scenario the model cannot run: the dotted key path of the setting at
/// fault, as a scenario file spells it (`flow[0].send`,
/// `hosts.sender.nic.offload`), when there is one, and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: Option<String>,
    pub message: String,
}

impl ConfigError {
    /// An error about the setting at `key`.
    pub fn at(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            key: Some(key.into()),
            message: message.into(),
        }
    }

    /// An error about the scenario as a whole.
    pub fn new(message: impl Into<String>) -> ConfigError {
        ConfigError {
            key: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(key) = &self.key {
            write!(f, "key `{key}`: ")?;
        }
        f.write_str(&self.message)
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
            switch: None,
            flows: vec![FlowConfig {
                from: "sender".into(),
                to: "receiver".into(),
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

    /// Index into [`Scenario::hosts`] of the host named `name`.
    pub fn host_index(&self, name: &str) -> Option<usize> {
        self.hosts.iter().position(|h| h.name == name)
    }

    /// With `[tap]`: the indices of the simulated host and of the absent
    /// one the kernel plays (a tap scenario has exactly two hosts).
    pub fn tap_hosts(&self) -> Option<(usize, usize)> {
        let t = self.tap.as_ref()?;
        let h = self.host_index(&t.host)?;
        Some((h, 1 - h.min(1)))
    }

    /// Checks the bounds the model relies on and the rules across keys;
    /// every error names the key it refuses.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_topology()?;
        if !(MIN_MTU..=MAX_MTU).contains(&self.link.mtu) {
            return Err(ConfigError::at(
                "link.mtu",
                format!("{} is outside {MIN_MTU}..={MAX_MTU}", self.link.mtu),
            ));
        }
        if self.link.rate_bps == 0 {
            return Err(ConfigError::at("link.rate", "must be above zero"));
        }
        for h in &self.hosts {
            h.validate()?;
        }
        if self.flows.is_empty() {
            return Err(ConfigError::at(
                "flow",
                "a scenario needs at least one [[flow]]",
            ));
        }
        let mut ports: Vec<u16> = Vec::new();
        for (i, f) in self.flows.iter().enumerate() {
            if let Some(first) = ports.iter().position(|&p| p == f.port) {
                return Err(ConfigError::at(
                    format!("flow[{i}].port"),
                    format!("port {} is already used by flow[{first}]", f.port),
                ));
            }
            ports.push(f.port);
            self.validate_flow(i, f)?;
        }
        Ok(())
    }

    /// Host count, distinct names and addresses, the switch, `[tap]`.
    fn validate_topology(&self) -> Result<(), ConfigError> {
        let n = self.hosts.len();
        if !(MIN_HOSTS..=MAX_HOSTS).contains(&n) {
            return Err(ConfigError::at(
                "hosts",
                format!("a scenario has {MIN_HOSTS} to {MAX_HOSTS} hosts, found {n}"),
            ));
        }
        for (i, h) in self.hosts.iter().enumerate() {
            for other in &self.hosts[..i] {
                if other.name == h.name {
                    return Err(ConfigError::at(
                        format!("hosts.{}", h.name),
                        "two hosts have this name",
                    ));
                }
                if other.address == h.address {
                    return Err(ConfigError::at(
                        format!("hosts.{}.address", h.name),
                        format!(
                            "hosts {:?} and {:?} have the same address {}",
                            other.name, h.name, h.address
                        ),
                    ));
                }
            }
        }
        if n > 2 && self.switch.is_none() {
            return Err(ConfigError::at(
                "switch",
                format!("{n} hosts need a [switch] to join them (a direct wire joins exactly two)"),
            ));
        }
        if let Some(sw) = &self.switch {
            if sw.buffer == 0 {
                return Err(ConfigError::at("switch.buffer", "must be above zero"));
            }
        }
        if let Some(t) = &self.tap {
            if self.host_index(&t.host).is_none() {
                return Err(ConfigError::at(
                    "tap.host",
                    format!("no host named {:?}", t.host),
                ));
            }
            if n != 2 || self.switch.is_some() {
                return Err(ConfigError::at(
                    "tap",
                    "a [tap] scenario has exactly two hosts and no [switch]: the kernel \
                     plays the other host at the end of a direct wire",
                ));
            }
        }
        Ok(())
    }

    /// The rules of one flow.
    fn validate_flow(&self, i: usize, f: &FlowConfig) -> Result<(), ConfigError> {
        let key = |k: &str| format!("flow[{i}].{k}");
        let err = |k: &str, m: String| Err(ConfigError::at(key(k), m));
        let Some(_) = self.host_index(&f.from) else {
            return err("from", format!("no host named {:?}", f.from));
        };
        let Some(to) = self.host_index(&f.to) else {
            return err("to", format!("no host named {:?}", f.to));
        };
        if f.from == f.to {
            return err(
                "to",
                format!(
                    "a flow goes between two hosts, but `from` and `to` both name {:?}",
                    f.to
                ),
            );
        }
        if f.bytes == 0 {
            return err("bytes", "must be above zero".into());
        }
        if f.write_size == 0 {
            return err("write_size", "must be above zero".into());
        }
        if f.read_size == 0 {
            return err("read_size", "must be above zero".into());
        }
        if f.port == 0 {
            return err("port", "port 0 is not a TCP port".into());
        }
        if f.iovecs == 0 || f.iovecs > IOV_MAX {
            return err("iovecs", format!("must be in 1..={IOV_MAX}"));
        }
        if f.buffer.pool_size == 0 {
            return err("buffer.pool_size", "must be above zero".into());
        }
        if f.recv == RecvPath::ZerocopyReceive && !self.hosts[to].nic.header_split {
            return err(
                "recv",
                format!(
                    "recv = \"zerocopy_receive\" needs hosts.{}.nic.header_split = true \
                     (TCP_ZEROCOPY_RECEIVE maps whole payload pages, which only header split \
                     leaves page-aligned)",
                    self.hosts[to].name
                ),
            );
        }
        if f.send == SendPath::IoUringFixed && f.buffer.pool != PoolKind::Fixed {
            return err(
                "buffer.pool",
                "send = \"io_uring_fixed\" registers its buffers once, so it needs \
                 buffer.pool = \"fixed\""
                    .into(),
            );
        }
        f.validate_framing(i)
    }
}

impl HostConfig {
    /// The bounds of one host's settings.
    fn validate(&self) -> Result<(), ConfigError> {
        let key = |k: &str| format!("hosts.{}.{k}", self.name);
        for (what, n) in [("tx_ring", self.nic.tx_ring), ("rx_ring", self.nic.rx_ring)] {
            if !(MIN_RING..=MAX_RING).contains(&n) {
                return Err(ConfigError::at(
                    key(&format!("nic.{what}")),
                    format!("{n} is outside {MIN_RING}..={MAX_RING}"),
                ));
            }
        }
        if self.nic.napi_budget == 0 {
            return Err(ConfigError::at(
                key("nic.napi_budget"),
                "must be above zero",
            ));
        }
        if self.nic.offloads.tso && !self.nic.offloads.tx_checksum {
            return Err(ConfigError::at(
                key("nic.offload"),
                "\"tso\" needs \"tx-checksum\" (Linux drops TSO from a device without \
                 checksum offload); add \"tx-checksum\", or use \"gso\" for segmentation in \
                 software",
            ));
        }
        for (what, n) in [
            ("sndbuf", self.socket.sndbuf),
            ("rcvbuf", self.socket.rcvbuf),
        ] {
            if n < 4096 {
                return Err(ConfigError::at(
                    key(&format!("socket.{what}")),
                    "must be at least 4KiB",
                ));
            }
        }
        Ok(())
    }
}

impl FlowConfig {
    /// Framing and the buffers that read framed messages.
    fn validate_framing(&self, i: usize) -> Result<(), ConfigError> {
        let key = |k: &str| format!("flow[{i}].{k}");
        let kind = self.buffer.kind;
        let Some(fr) = self.framing else {
            if kind.dynamic() {
                return Err(ConfigError::at(
                    key("buffer.kind"),
                    format!(
                        "buffer.kind = {:?} reads messages with read_until, so it needs \
                         [flow.framing] kind = \"delimited\"",
                        kind.name()
                    ),
                ));
            }
            return Ok(());
        };
        if fr.kind != FramingKind::Delimited
            && !matches!(self.send, SendPath::Write | SendPath::Writev)
        {
            return Err(ConfigError::at(
                key("framing.kind"),
                "framing with header parts is a gather write: it needs send = \"write\" or \
                 \"writev\"",
            ));
        }
        if fr.kind == FramingKind::HeaderBodyTrailer && (fr.header == 0 || fr.trailer == 0) {
            return Err(ConfigError::at(
                key("framing"),
                "header_body_trailer needs a header and a trailer of at least one byte",
            ));
        }
        if fr.kind != FramingKind::Delimited && kind.dynamic() {
            return Err(ConfigError::at(
                key("buffer.kind"),
                format!(
                    "buffer.kind = {:?} reads with read_until, which needs framing kind = \
                     \"delimited\"",
                    kind.name()
                ),
            ));
        }
        if fr.delimiter.is_ascii_alphanumeric() || fr.delimiter == b'-' || fr.delimiter == b'.' {
            return Err(ConfigError::at(
                key("framing.delimiter"),
                format!(
                    "{:?} also occurs in the data (letters, digits, '-' and '.'); pick another \
                     byte, e.g. \"\\n\"",
                    fr.delimiter as char
                ),
            ));
        }
        Ok(())
    }
}
