//! The guest's allocator: a bump pointer that never gives memory back.
//!
//! An instance serves one request and is then thrown away with all its memory,
//! so freeing inside it buys nothing. Bumping is a handful of instructions where a
//! general allocator spends hundreds, and it starts at `__heap_base`, inside the
//! memory the module is instantiated with: a small request never grows memory, so
//! the host has no pages to map in for it and none to unmap after.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::Cell;

const PAGE: usize = 64 * 1024;

unsafe extern "C" {
    /// Where the linker ends static data: the heap is everything above it.
    static __heap_base: u8;
}

/// A bump allocator for a single-threaded guest that lives for one request.
pub struct Bump {
    /// The first free byte, or 0 before the first allocation.
    next: Cell<usize>,
}

// The guest is single-threaded: wasm32 without the threads feature.
unsafe impl Sync for Bump {}

impl Bump {
    /// An allocator whose heap starts at `__heap_base` on first use.
    pub const fn new() -> Self {
        Self { next: Cell::new(0) }
    }
}

unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let next = match self.next.get() {
            0 => &raw const __heap_base as usize,
            next => next,
        };
        let start = next.next_multiple_of(layout.align());
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
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
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
