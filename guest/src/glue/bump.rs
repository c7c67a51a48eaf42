//! The guest's allocator: a bump pointer that never gives memory back.
//!
//! An instance serves one request and is then thrown away with all its memory,
//! so freeing inside it buys nothing. Bumping is a handful of instructions where a
//! general allocator spends hundreds, and it starts at `__heap_base`, inside the
//! memory the module is instantiated with: a small request never grows memory, so
//! the host has no pages to map in for it and none to unmap after.
//!
//! Every block lies below `next`, and `next` moves back only over the block that ends at
//! it, which is being freed or resized: so no two live blocks overlap.
#![allow(unsafe_code, reason = "a global allocator is an `unsafe` trait implementation")]
#![warn(clippy::undocumented_unsafe_blocks, reason = "each `unsafe` says why it is sound")]

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::Cell;

// `Sync for Bump` below holds only while the guest has one thread.
#[cfg(target_feature = "atomics")]
compile_error!("the bump allocator is single-threaded: build the guest without `atomics`");

const PAGE: usize = 64 * 1024;

// SAFETY: wasm-ld defines `__heap_base` in every wasm32 module it links, at the end of static
// data; the allocator takes only its address and never reads the byte.
unsafe extern "C" {
    /// Where the linker ends static data: the heap is everything above it.
    static __heap_base: u8;
}

/// A bump allocator for a single-threaded guest that lives for one request.
pub struct Bump {
    /// The first free byte, or 0 before the first allocation.
    next: Cell<usize>,
}

// SAFETY: the `Cell` is never touched from two threads at once, because the guest has one
// thread: wasm32 without the `atomics` feature (checked above) cannot spawn another.
unsafe impl Sync for Bump {}

impl Bump {
    /// An allocator whose heap starts at `__heap_base` on first use.
    pub const fn new() -> Self {
        Self { next: Cell::new(0) }
    }
}

// SAFETY: `alloc` returns null or a block of `layout.size()` bytes aligned to `layout.align()`
// inside linear memory (grown to cover it) and above every live block, since it starts at
// `next` and moves `next` past its end. `dealloc` and `realloc` move `next` back only to the
// start of the block that ends at `next`, the one being freed or resized. Nothing here unwinds.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let next = match self.next.get() {
            0 => &raw const __heap_base as usize,
            next => next,
        };
        // An alignment is a power of two, so rounding up is a mask. Near the top of a 4 GiB
        // memory, rounding up or adding the size could overflow `usize`.
        let mask = layout.align() - 1;
        let Some(start) = next.checked_add(mask).map(|next| next & !mask) else {
            return core::ptr::null_mut();
        };
        let Some(end) = start.checked_add(layout.size()).filter(|&end| memory_covers(end)) else {
            return core::ptr::null_mut();
        };
        self.next.set(end);
        start as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Only the latest allocation can be handed back: a vector built and then
        // dropped in turn reuses its bytes.
        if ptr as usize + layout.size() == self.next.get() {
            self.next.set(ptr as usize);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // The latest allocation grows or shrinks where it is.
        if ptr as usize + layout.size() == self.next.get() {
            let end = (ptr as usize).checked_add(new_size).filter(|&end| memory_covers(end));
            return match end {
                Some(end) => {
                    self.next.set(end);
                    ptr
                }
                None => core::ptr::null_mut(),
            };
        }
        // SAFETY: `layout.align()` is a power of two, being a `Layout`'s, and the caller of
        // `realloc` guarantees that `new_size`, rounded up to it, does not overflow `isize`.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: `new_layout` is not zero-sized: the caller of `realloc` guarantees
        // `new_size > 0`.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: `ptr` is a live block of `layout.size()` bytes (the caller's guarantee) and
            // `new` a fresh one of `new_size`, so both hold the bytes copied. They do not overlap:
            // `ptr` lies below `next`, where `alloc` started `new`.
            unsafe { core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
        }
        new
    }
}

/// Grows linear memory, if need be, to cover addresses below `end`; false if the host
/// refuses (the tenant's memory limit), which the caller reports as out of memory.
fn memory_covers(end: usize) -> bool {
    let available = wasm32::memory_size(0).saturating_mul(PAGE);
    end <= available || wasm32::memory_grow(0, (end - available).div_ceil(PAGE)) != usize::MAX
}
