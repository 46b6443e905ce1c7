/// Types for which all-zero bytes are a valid value, so that
/// [`HotArena::alloc_slice`](crate::HotArena::alloc_slice) can hand out
/// initialised memory with one `memset`.
///
/// # Safety
///
/// Implement it only for a type whose every field accepts all-zero bytes
/// (integers, floats, raw pointers, and `#[repr(C)]` aggregates of them); not
/// for references, `NonNull`, `NonZero*`, enums without a zero variant, or
/// types with a validity invariant of their own.
pub unsafe trait Zeroable {}

macro_rules! zeroable {
    ($($t:ty),* $(,)?) => { $( unsafe impl Zeroable for $t {} )* };
}

zeroable!(
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    bool,
    char,
    ()
);

unsafe impl<T> Zeroable for *const T {}
unsafe impl<T> Zeroable for *mut T {}
unsafe impl<T> Zeroable for core::mem::MaybeUninit<T> {}
unsafe impl<T: Zeroable, const N: usize> Zeroable for [T; N] {}
unsafe impl<T: Zeroable> Zeroable for core::num::Wrapping<T> {}
unsafe impl<T: Zeroable> Zeroable for core::cell::Cell<T> {}
unsafe impl<T> Zeroable for Option<&T> {}
unsafe impl<T> Zeroable for Option<&mut T> {}
unsafe impl<T> Zeroable for Option<core::ptr::NonNull<T>> {}
