//! The TAP backend: a simulated host's NIC port bridged to the Linux kernel.
//!
//! Owns [`Tap`], an [`ExternalPort`] over a TAP device that simnet creates
//! for the run: frames the simulated NIC transmits are written to the
//! device (the kernel receives them as if from a wire), frames the kernel
//! sends out of the device are read and handed to the simulated NIC. It
//! configures the kernel's side: the absent host's address, the link's MTU,
//! IPv6 off (no router solicitations), link up. It keeps the wall clock the
//! run follows.
//!
//! Safety of the machine it runs on: it only ever touches the device it
//! created. A name that already exists is refused, not reused. The device
//! is not persistent: the kernel removes it when simnet's file descriptor
//! closes, on a normal end, an error, Ctrl-C/SIGTERM/SIGHUP (see
//! [`stop_flag`]) and even a kill.
//!
//! This is the only module with `unsafe` or OS calls.

use std::fmt;
use std::fs::OpenOptions;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::poll::{ppoll, PollFd, PollFlags};
use nix::sys::time::TimeSpec;
use simnet_sim::external::ExternalPort;
use simnet_sim::Nanos;
use tun_tap::{Iface, Mode};

/// Waits shorter than this are polled, not slept.
const SPIN_BELOW: Nanos = 200_000;

/// The TUN/TAP clone device.
const TUN: &str = "/dev/net/tun";

/// Why the TAP device could not be set up.
#[derive(Debug)]
pub enum TapError {
    /// An interface of that name exists (simnet never reuses one).
    Exists(String),
    /// No permission to create a TAP device.
    NotPermitted(String),
    /// No read and write access to /dev/net/tun (its mode, owner, group).
    TunAccess(String, u32, u32, u32),
    /// The kernel offers no TUN/TAP driver.
    NoTun(io::Error),
    /// Configuring the kernel's side failed.
    Configure {
        command: String,
        why: String,
    },
    Io(String, io::Error),
}

impl fmt::Display for TapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TapError::Exists(d) => write!(
                f,
                "an interface named {d:?} already exists; simnet only uses a TAP device it creates \
                 itself: choose another `device` in [tap], or remove that interface"
            ),
            TapError::NotPermitted(d) => write!(
                f,
                "cannot create TAP device {d:?}: permission denied. Creating a TAP device needs \
                 CAP_NET_ADMIN in the current network namespace: run as root inside a namespace \
                 (sudo ip netns add simnet && sudo ip netns exec simnet simnet run FILE), or in a \
                 new user and network namespace (unshare -rn simnet run FILE)"
            ),
            TapError::TunAccess(d, mode, uid, gid) => write!(
                f,
                "cannot create TAP device {d:?}: permission denied opening {TUN} (mode {mode:04o}, \
                 owner uid {uid}, group gid {gid}): this user needs read and write access to it, \
                 or to be root; creating the device then also needs CAP_NET_ADMIN in the network \
                 namespace: run as root inside a namespace (sudo ip netns add simnet && sudo ip \
                 netns exec simnet simnet run FILE)"
            ),
            TapError::NoTun(e) => write!(
                f,
                "cannot open {TUN} ({e}): the kernel's TUN/TAP driver is missing \
                 (modprobe tun) or the device node is not there"
            ),
            TapError::Configure { command, why } => {
                write!(f, "configuring the TAP device failed: `{command}`: {why}")
            }
            TapError::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for TapError {}

/// A flag that turns true on Ctrl-C (SIGINT), SIGTERM or SIGHUP, so that a
/// run can end cleanly: report printed, captures closed, device removed.
/// From the first call on, those signals no longer end the process (see
/// [`crate::signals`]); every call returns the same flag.
pub fn stop_flag() -> Arc<AtomicBool> {
    crate::signals::stop_flag()
}

/// The kernel's address on the device, and the link it sees.
#[derive(Debug, Clone, Copy)]
pub struct KernelLink {
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    pub mtu: u32,
}

/// A TAP device simnet created, and the wall clock of the run.
pub struct Tap {
    iface: Iface,
    frame_max: usize,
    start: Option<Instant>,
    stop: Arc<AtomicBool>,
}

impl Tap {
    /// Creates `device`, gives the kernel `kernel.address` on it, and
    /// brings it up.
    pub fn create(
        device: &str,
        kernel: KernelLink,
        stop: Arc<AtomicBool>,
    ) -> Result<Tap, TapError> {
        // Asked of this network namespace (sysfs may show another one).
        if nix::net::if_::if_nametoindex(device).is_ok() {
            return Err(TapError::Exists(device.into()));
        }
        // Opening the clone device and creating an interface on it are
        // refused for different reasons (file permissions, or no
        // CAP_NET_ADMIN), both as "permission denied": tell them apart.
        let tun_access = || {
            let m = std::fs::metadata(TUN).ok();
            let (mode, uid, gid) = m.map_or((0, 0, 0), |m| (m.mode() & 0o7777, m.uid(), m.gid()));
            TapError::TunAccess(device.into(), mode, uid, gid)
        };
        if let Err(e) = OpenOptions::new().read(true).write(true).open(TUN) {
            return Err(match e.kind() {
                io::ErrorKind::PermissionDenied => tun_access(),
                io::ErrorKind::NotFound => TapError::NoTun(e),
                _ => TapError::Io(format!("cannot open {TUN}"), e),
            });
        }
        let iface = Iface::without_packet_info(device, Mode::Tap).map_err(|e| {
            match (e.kind(), e.raw_os_error()) {
                (_, Some(nix::libc::EACCES)) => tun_access(),
                (io::ErrorKind::PermissionDenied, _) => TapError::NotPermitted(device.into()),
                (_, Some(nix::libc::EBUSY)) => TapError::Exists(device.into()),
                (io::ErrorKind::NotFound, _) => TapError::NoTun(e),
                _ => TapError::Io(format!("cannot create TAP device {device:?}"), e),
            }
        })?;
        if iface.name() != device {
            return Err(TapError::Io(
                format!("the kernel named the device {:?}", iface.name()),
                io::Error::other("not the name asked for"),
            ));
        }
        let mtu = kernel.mtu.to_string();
        let addr = format!("{}/{}", kernel.address, kernel.prefix_len);
        ip(&["link", "set", "dev", device, "mtu", &mtu])?;
        // Only IPv4 is simulated: IPv6 would only add router solicitations
        // and MLD reports to the capture.
        let v6 = format!("/proc/sys/net/ipv6/conf/{device}/disable_ipv6");
        if Path::new(&v6).exists() {
            let _ = std::fs::write(&v6, "1");
        }
        ip(&["addr", "add", &addr, "dev", device])?;
        ip(&["link", "set", "dev", device, "up"])?;
        Ok(Tap {
            iface,
            frame_max: kernel.mtu as usize + 14 + 4,
            start: None,
            stop,
        })
    }

    pub fn name(&self) -> &str {
        self.iface.name()
    }
}

/// Runs `ip ARGS` (iproute2) on the device simnet created.
fn ip(args: &[&str]) -> Result<(), TapError> {
    let command = format!("ip {}", args.join(" "));
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| TapError::Configure {
            command: command.clone(),
            why: format!("{e} (simnet needs the `ip` command from iproute2)"),
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(TapError::Configure {
            command,
            why: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

impl ExternalPort for Tap {
    fn now(&mut self) -> Nanos {
        let start = *self.start.get_or_insert_with(Instant::now);
        start.elapsed().as_nanos() as Nanos
    }

    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        match self.iface.send(frame) {
            Ok(_) => Ok(()),
            // The device's queue is full: the frame is lost, as on a wire;
            // TCP recovers.
            Err(e) if e.raw_os_error() == Some(nix::libc::ENOBUFS) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn recv(&mut self, buf: &mut Vec<u8>, timeout: Nanos) -> io::Result<bool> {
        // A sleep shorter than the kernel's timer slack (50 us by default)
        // would overshoot: the model's microsecond steps (interrupt
        // moderation, DMA) would stretch. Short waits poll instead.
        let timeout = if timeout < SPIN_BELOW { 0 } else { timeout };
        // SAFETY: the descriptor belongs to `self.iface`, which outlives
        // this borrow.
        let fd = unsafe { BorrowedFd::borrow_raw(self.iface.as_raw_fd()) };
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        let ts = TimeSpec::from_duration(Duration::from_nanos(timeout));
        match ppoll(&mut fds, Some(ts), None) {
            Ok(0) => return Ok(false),
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        buf.clear();
        buf.resize(self.frame_max, 0);
        let n = self.iface.recv(buf)?;
        buf.truncate(n);
        Ok(n > 0)
    }

    fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}
