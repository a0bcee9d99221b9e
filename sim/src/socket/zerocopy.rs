//! Zero-copy send notifications: the socket's `ubuf_info` records.
//!
//! Owns [`Ubufs`]: one [`ZcSend`] per zero-copy send call still in flight
//! (its stream range, the user pages it referenced, the transmitted clones
//! that still hold it), their completion once TCP has the bytes
//! acknowledged and every clone is freed, and the queue of completion
//! notifications the application has not reaped yet (`ee_info`..`ee_data`
//! ranges on the error queue for MSG_ZEROCOPY, one F_NOTIF CQE per request
//! for io_uring). Models `msg_zerocopy_realloc`, `skb_zcopy_clear` and
//! `__msg_zerocopy_callback` in `net/core/skbuff.c`.
//!
//! Does not charge anything: the socket layer ([`crate::socket`]) charges
//! the unpinning and the callback, the send path the reaping.

use std::collections::VecDeque;

/// One zero-copy send in flight (Linux `ubuf_info`): its bytes are
/// referenced in user pages until TCP has them acknowledged and the driver
/// has freed every clone that carried them.
#[derive(Debug, Clone, Copy)]
pub struct ZcSend {
    /// Notification id (`ee_info`/`ee_data` range member).
    pub id: u32,
    pub buffer: u32,
    pub start: u64,
    pub end: u64,
    /// Page references taken (`get_user_pages_fast`).
    pub pages: u64,
    /// Transmitted clones not yet freed by Tx completion.
    pub refs: u32,
    /// The send call has queued all its bytes.
    pub queued_all: bool,
}

/// A socket's zero-copy sends in flight and its completion queue.
#[derive(Debug, Default)]
pub struct Ubufs {
    /// Sends in flight, in stream order.
    pub sends: VecDeque<ZcSend>,
    /// Id of the next send.
    pub next_id: u32,
    /// Completion ranges queued for the application, not yet reaped.
    pub errqueue: VecDeque<(u32, u32)>,
    /// Buffers whose sends completed: handed back when the completion is
    /// reaped.
    pub completed_buffers: Vec<u32>,
    /// (buffer, stream start, stream end) of the sends completed since the
    /// socket layer last looked, for the lifecycle events.
    pub just_completed: Vec<(u32, u64, u64)>,
}

impl Ubufs {
    /// `msg_zerocopy_realloc`: a new send from `buffer` starting at stream
    /// offset `start`; its bytes are added as they are queued. Returns its
    /// notification id.
    pub fn open(&mut self, buffer: u32, start: u64) -> u32 {
        self.sends.push_back(ZcSend {
            id: self.next_id,
            buffer,
            start,
            end: start,
            pages: 0,
            refs: 0,
            queued_all: false,
        });
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id.wrapping_sub(1)
    }

    /// The send being queued now.
    pub fn last_mut(&mut self) -> &mut ZcSend {
        self.sends.back_mut().expect("the send's ubuf")
    }

    /// Whether nothing is in flight and nothing is left to reap.
    pub fn idle(&self) -> bool {
        self.sends.is_empty() && self.errqueue.is_empty()
    }

    /// The send with notification id `id`, if it is still in flight. Ids
    /// are consecutive in `sends` (opened at the back, completed from the
    /// front), so this is one subtraction, whatever is in flight.
    pub fn get(&self, id: u32) -> Option<&ZcSend> {
        let front = self.sends.front()?.id;
        self.sends.get(id.wrapping_sub(front) as usize)
    }

    /// Index of the send in flight holding stream offset `off`.
    pub fn index_of(&self, off: u64) -> Option<usize> {
        if self.sends.is_empty() {
            return None;
        }
        let i = self.sends.partition_point(|z| z.end <= off);
        (i < self.sends.len() && self.sends[i].start <= off).then_some(i)
    }

    /// Adds (or drops) one clone reference on every send that a frame's
    /// payload `[off, off + len)` touches.
    pub fn clone_ref(&mut self, off: u64, len: u64, add: bool) {
        let Some(mut i) = self.index_of(off) else {
            return;
        };
        let end = off + len;
        while i < self.sends.len() && self.sends[i].start < end {
            let z = &mut self.sends[i];
            if add {
                z.refs += 1;
            } else {
                z.refs = z.refs.saturating_sub(1);
            }
            i += 1;
        }
    }

    /// Sends whose last reference is gone: acknowledged (below `acked`) and
    /// not held by any untransmitted clone. Pops them in order and queues
    /// their completion, merging consecutive ids into one range when
    /// `coalesce` (as `__msg_zerocopy_callback` does). Returns (sends,
    /// pages, bytes) completed.
    pub fn complete_acked(&mut self, acked: u64, coalesce: bool) -> (u64, u64, u64) {
        let (mut sends, mut pages, mut bytes) = (0, 0, 0);
        while let Some(z) = self.sends.front() {
            if !(z.queued_all && z.end <= acked && z.refs == 0) {
                break;
            }
            let z = self.sends.pop_front().expect("front exists");
            sends += 1;
            pages += z.pages;
            bytes += z.end - z.start;
            match self.errqueue.back_mut() {
                Some(last) if coalesce && last.1.wrapping_add(1) == z.id => last.1 = z.id,
                _ => self.errqueue.push_back((z.id, z.id)),
            }
            self.completed_buffers.push(z.buffer);
            self.just_completed.push((z.buffer, z.start, z.end));
        }
        (sends, pages, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sends(n: u32) -> Ubufs {
        let mut u = Ubufs::default();
        for i in 0..n {
            u.open(i, i as u64 * 100);
            let z = u.last_mut();
            z.end += 100;
            z.pages = 16;
            z.queued_all = true;
        }
        u
    }

    #[test]
    fn zero_copy_send_completes_only_after_ack_and_clone_free() {
        let mut u = sends(1);
        u.clone_ref(10, 50, true);
        assert_eq!(u.complete_acked(100, true), (0, 0, 0), "a clone holds it");
        u.clone_ref(10, 50, false);
        assert_eq!(u.complete_acked(100, true), (1, 16, 100));
        assert_eq!(u.errqueue, VecDeque::from([(0, 0)]));
    }

    #[test]
    fn consecutive_completions_merge_into_one_range() {
        let mut u = sends(3);
        assert_eq!(u.complete_acked(250, true).0, 2);
        assert_eq!(u.complete_acked(300, true).0, 1);
        assert_eq!(u.errqueue, VecDeque::from([(0, 2)]));
        assert_eq!(u.completed_buffers, vec![0, 1, 2]);
    }

    #[test]
    fn a_send_is_found_by_id_only_while_in_flight() {
        let mut u = sends(3);
        assert_eq!(u.get(1).map(|z| z.buffer), Some(1));
        u.complete_acked(200, true);
        assert!(u.get(1).is_none(), "completed");
        assert_eq!(u.get(2).map(|z| z.start), Some(200));
        assert!(u.get(3).is_none(), "not opened yet");
    }

    #[test]
    fn io_uring_notifications_are_one_per_request() {
        let mut u = sends(3);
        assert_eq!(u.complete_acked(300, false).0, 3);
        assert_eq!(u.errqueue, VecDeque::from([(0, 0), (1, 1), (2, 2)]));
    }
}
