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

/// Most bytes one notification may cover before `msg_zerocopy_realloc`
/// starts a new one ("limit to a few TSO": `byte_limit = 1 << 19` in
/// `net/core/skbuff.c`).
pub const UARG_BYTE_LIMIT: u64 = 1 << 19;
/// Most sends one notification may cover (`uarg_zc->len < USHRT_MAX - 1`).
pub const UARG_MAX_SENDS: u32 = u16::MAX as u32 - 1;

/// One zero-copy notification in flight (Linux `ubuf_info_msgzc`): the
/// stream bytes of one or more consecutive sends, referenced in user pages
/// until TCP has them acknowledged and the driver has freed every clone
/// that carried them.
#[derive(Debug, Clone, Copy)]
pub struct ZcSend {
    /// Notification id of its first send (`ee_info`); it covers `count`
    /// consecutive ids (to `ee_data`).
    pub id: u32,
    pub count: u32,
    pub start: u64,
    pub end: u64,
    /// Page references taken (`get_user_pages_fast`).
    pub pages: u64,
    /// Transmitted clones not yet freed by Tx completion.
    pub refs: u32,
    /// The latest send call has queued all its bytes.
    pub queued_all: bool,
}

/// One send call a notification covers: its buffer and stream bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub buffer: u32,
    pub start: u64,
    pub end: u64,
}

/// A completion queued for the application, not reaped yet: the ids of the
/// sends it covers (`ee_info`..`ee_data`) and their stream bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notice {
    pub ids: (u32, u32),
    pub stream: (u64, u64),
}

/// A socket's zero-copy notifications in flight and its completion queue.
#[derive(Debug, Default)]
pub struct Ubufs {
    /// Notifications in flight, in stream order.
    pub sends: VecDeque<ZcSend>,
    /// Every send they cover, in id order: the first is `sends[0].id`.
    members: VecDeque<Member>,
    /// Id of the next send.
    pub next_id: u32,
    /// Completion ranges queued for the application, not yet reaped.
    pub errqueue: VecDeque<Notice>,
    /// Buffers whose sends completed: handed back when the completion is
    /// reaped.
    pub completed_buffers: Vec<u32>,
    /// (buffer, stream start, stream end) of the sends completed since the
    /// socket layer last looked, for the lifecycle events.
    pub just_completed: Vec<(u32, u64, u64)>,
    /// The notifications completed since the socket layer last looked, for
    /// their unpin and callback events.
    pub just_done: Vec<ZcSend>,
}

impl Ubufs {
    /// `msg_zerocopy_alloc`: a new notification for a send from `buffer`
    /// starting at stream offset `start`; its bytes are added as they are
    /// queued. Returns the send's id.
    pub fn open(&mut self, buffer: u32, start: u64) -> u32 {
        self.sends.push_back(ZcSend {
            id: self.next_id,
            count: 1,
            start,
            end: start,
            pages: 0,
            refs: 0,
            queued_all: false,
        });
        self.push_member(buffer, start)
    }

    /// `msg_zerocopy_realloc` extending the latest notification: a send of
    /// `len` bytes from `buffer` at `start` joins it, when the latest
    /// send's bytes end there and some still sit unsent in the tail sk_buff
    /// (`unsent_from`: the first byte not yet transmitted), and the
    /// notification stays within [`UARG_BYTE_LIMIT`] and
    /// [`UARG_MAX_SENDS`]. Returns the send's id, or `None` when a new
    /// notification is needed.
    pub fn extend(&mut self, buffer: u32, start: u64, len: u64, unsent_from: u64) -> Option<u32> {
        let z = self.sends.back_mut()?;
        let joins = z.queued_all
            && z.end == start
            && unsent_from < z.end
            && z.end - z.start + len <= UARG_BYTE_LIMIT
            && z.count < UARG_MAX_SENDS;
        if !joins {
            return None;
        }
        z.count += 1;
        z.queued_all = false;
        Some(self.push_member(buffer, start))
    }

    fn push_member(&mut self, buffer: u32, start: u64) -> u32 {
        self.members.push_back(Member {
            buffer,
            start,
            end: start,
        });
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id.wrapping_sub(1)
    }

    /// The notification being queued now.
    pub fn last_mut(&mut self) -> &mut ZcSend {
        self.sends.back_mut().expect("the send's ubuf")
    }

    /// The send call's bytes grew by `n` (and its notification's).
    pub fn queued(&mut self, n: u64) {
        self.last_mut().end += n;
        self.members.back_mut().expect("the send").end += n;
    }

    /// Whether nothing is in flight and nothing is left to reap.
    pub fn idle(&self) -> bool {
        self.sends.is_empty() && self.errqueue.is_empty()
    }

    /// The send with id `id`, if its notification is still in flight. Ids
    /// are consecutive in `members` (opened at the back, completed from
    /// the front), so this is one subtraction, whatever is in flight.
    pub fn get(&self, id: u32) -> Option<Member> {
        let front = self.sends.front()?.id;
        self.members.get(id.wrapping_sub(front) as usize).copied()
    }

    /// Index of the notification in flight holding stream offset `off`.
    pub fn index_of(&self, off: u64) -> Option<usize> {
        if self.sends.is_empty() {
            return None;
        }
        let i = self.sends.partition_point(|z| z.end <= off);
        (i < self.sends.len() && self.sends[i].start <= off).then_some(i)
    }

    /// Adds (or drops) one clone reference on every notification that a
    /// frame's payload `[off, off + len)` touches.
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

    /// Notifications whose last reference is gone: acknowledged (below
    /// `acked`) and not held by any untransmitted clone. Pops them in order
    /// and queues their completion (`__msg_zerocopy_callback`: `ee_info`
    /// .. `ee_data` the ids they cover), merging a range with the queue's
    /// tail when consecutive and `coalesce` (as it does on the error
    /// queue). Returns how many completed; they are in
    /// [`Ubufs::just_done`] (their pages and bytes) until taken.
    pub fn complete_acked(&mut self, acked: u64, coalesce: bool) -> u64 {
        let mut done = 0;
        while let Some(z) = self.sends.front() {
            if !(z.queued_all && z.end <= acked && z.refs == 0) {
                break;
            }
            let z = self.sends.pop_front().expect("front exists");
            self.just_done.push(z);
            done += 1;
            let hi = z.id.wrapping_add(z.count - 1);
            match self.errqueue.back_mut() {
                Some(last) if coalesce && last.ids.1.wrapping_add(1) == z.id => {
                    last.ids.1 = hi;
                    last.stream.1 = z.end;
                }
                _ => self.errqueue.push_back(Notice {
                    ids: (z.id, hi),
                    stream: (z.start, z.end),
                }),
            }
            for m in self.members.drain(..z.count as usize) {
                self.completed_buffers.push(m.buffer);
                self.just_completed.push((m.buffer, m.start, m.end));
            }
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The id ranges queued on the error queue.
    fn ids(u: &Ubufs) -> Vec<(u32, u32)> {
        u.errqueue.iter().map(|n| n.ids).collect()
    }

    fn sends(n: u32) -> Ubufs {
        let mut u = Ubufs::default();
        for i in 0..n {
            u.open(i, i as u64 * 100);
            u.queued(100);
            let z = u.last_mut();
            z.pages = 16;
            z.queued_all = true;
        }
        u
    }

    #[test]
    fn a_send_joins_the_notification_whose_bytes_are_still_unsent() {
        let mut u = sends(1);
        // Everything of send 0 transmitted: a new notification.
        assert_eq!(u.extend(1, 100, 100, 100), None);
        // Some still unsent: send 1 joins; one completion covers both.
        assert_eq!(u.extend(1, 100, 100, 50), Some(1));
        u.queued(100);
        u.last_mut().queued_all = true;
        assert_eq!(
            u.get(1).map(|m| (m.buffer, m.start, m.end)),
            Some((1, 100, 200))
        );
        assert_eq!(u.complete_acked(200, true), 1);
        assert_eq!(ids(&u), [(0, 1)]);
        assert_eq!(u.completed_buffers, vec![0, 1]);
        // Not past the byte limit.
        let mut u = sends(1);
        assert_eq!(u.extend(1, 100, UARG_BYTE_LIMIT, 50), None);
    }

    #[test]
    fn zero_copy_send_completes_only_after_ack_and_clone_free() {
        let mut u = sends(1);
        u.clone_ref(10, 50, true);
        assert_eq!(u.complete_acked(100, true), 0, "a clone holds it");
        assert!(u.just_done.is_empty());
        u.clone_ref(10, 50, false);
        assert_eq!(u.complete_acked(100, true), 1);
        let done = &u.just_done[0];
        assert_eq!((done.pages, done.end - done.start), (16, 100));
        assert_eq!(ids(&u), [(0, 0)]);
    }

    #[test]
    fn consecutive_completions_merge_into_one_range() {
        let mut u = sends(3);
        assert_eq!(u.complete_acked(250, true), 2);
        assert_eq!(u.complete_acked(300, true), 1);
        assert_eq!(ids(&u), [(0, 2)]);
        assert_eq!(u.errqueue[0].stream, (0, 300), "the merged range's bytes");
        assert_eq!(u.completed_buffers, vec![0, 1, 2]);
    }

    #[test]
    fn a_send_is_found_by_id_only_while_in_flight() {
        let mut u = sends(3);
        assert_eq!(u.get(1).map(|m| m.buffer), Some(1));
        u.complete_acked(200, true);
        assert!(u.get(1).is_none(), "completed");
        assert_eq!(u.get(2).map(|z| z.start), Some(200));
        assert!(u.get(3).is_none(), "not opened yet");
    }

    #[test]
    fn io_uring_notifications_are_one_per_request() {
        let mut u = sends(3);
        assert_eq!(u.complete_acked(300, false), 3);
        assert_eq!(ids(&u), [(0, 0), (1, 1), (2, 2)]);
    }
}
