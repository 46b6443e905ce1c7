use core::fmt;

/// Why an allocation, or getting an arena, failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AllocError {
    /// The arena does not have the bytes at the requested alignment
    /// (`ENOMEM`). A failed allocation changes nothing in the arena.
    OutOfMemory,
    /// `len * size_of::<T>()` overflows `usize` (`EOVERFLOW`).
    Overflow,
    /// The alignment is not a power of two, or exceeds the page size of the
    /// arena's region (`EINVAL`).
    InvalidAlignment,
    /// This handle's arena is lent to a nested [`with_arena`](crate::with_arena)
    /// (or [`with_thread_arena`](crate::with_thread_arena)) call that is still
    /// running; allocate through the inner handle (`EBUSY`).
    Suspended,
    /// libbhc-arena could not give a region, with this `errno`: no daemon in
    /// daemon mode (`ECONNREFUSED`), a daemon limit (`EDQUOT`, `ENOSPC`,
    /// `EFBIG`), no memory (`ENOMEM`), a bad `$BHC_ARENA_MODE` (`EINVAL`), ...
    /// See bhc_arena(3).
    Os(i32),
}

/// The result of every fallible operation of this crate.
pub type AllocResult<T> = Result<T, AllocError>;

impl AllocError {
    /// The `errno` value the C library uses for this error.
    pub fn errno(&self) -> i32 {
        match *self {
            AllocError::OutOfMemory => libc::ENOMEM,
            AllocError::Overflow => libc::EOVERFLOW,
            AllocError::InvalidAlignment => libc::EINVAL,
            AllocError::Suspended => libc::EBUSY,
            AllocError::Os(e) => e,
        }
    }

    /// An allocation's failure, from the `errno` the slow path set.
    pub(crate) fn from_alloc_errno(e: i32) -> AllocError {
        match e {
            libc::ENOMEM => AllocError::OutOfMemory,
            libc::EINVAL => AllocError::InvalidAlignment,
            libc::EOVERFLOW => AllocError::Overflow,
            e => AllocError::Os(e),
        }
    }
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AllocError::OutOfMemory => f.write_str("arena full: not enough bytes left"),
            AllocError::Overflow => f.write_str("allocation size overflows usize"),
            AllocError::InvalidAlignment => {
                f.write_str("alignment is not a power of two or exceeds the region's page size")
            }
            AllocError::Suspended => {
                f.write_str("arena handle suspended: a nested with_arena() call is using its arena")
            }
            AllocError::Os(e) => {
                write!(f, "libbhc-arena: {}", std::io::Error::from_raw_os_error(e))
            }
        }
    }
}

impl std::error::Error for AllocError {}
