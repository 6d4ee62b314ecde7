//! Arithmetic in GF(256) and Lagrange interpolation over byte vectors.
//!
//! SLIP-0039 "Shamir's secret-sharing": each byte of a secret is shared
//! independently, bytes are elements of GF(256) in polynomial representation
//! reduced modulo the Rijndael polynomial x^8 + x^4 + x^3 + x + 1 (FIPS-197
//! sections 3.2, 4.1, 4.2).
//!
//! Share values are secret, so multiplication is written without lookup
//! tables or data-dependent branches: log/exp tables indexed by secret bytes
//! leak through the cache. The x-coordinates are public, but the same routines
//! are used for them to keep a single code path.

use zeroize::Zeroizing;

/// The Rijndael polynomial without its x^8 term, applied when a shift
/// carries out of the top bit (FIPS-197 section 4.2.1, `xtime`).
const REDUCTION: u8 = 0x1b;

/// Product in GF(256), constant time in both operands.
pub(crate) fn mul(a: u8, b: u8) -> u8 {
    let mut a = a;
    let mut b = b;
    let mut product = 0u8;
    for _ in 0..8 {
        // All-ones when the low bit of b is set, without branching on it.
        let take = 0u8.wrapping_sub(b & 1);
        product ^= a & take;
        let carry = 0u8.wrapping_sub(a >> 7);
        a = (a << 1) ^ (REDUCTION & carry);
        b >>= 1;
    }
    product
}

/// Multiplicative inverse, computed as a^254 (the group of units has order
/// 255) so that it takes the same time for every input. Returns 0 for 0.
pub(crate) fn inv(a: u8) -> u8 {
    // Fixed addition chain: a^254 = a^(2+4+8+16+32+64+128).
    let mut square = mul(a, a); // a^2
    let mut result = square;
    for _ in 0..6 {
        square = mul(square, square);
        result = mul(result, square);
    }
    result
}

/// Interpolation failures; callers map them to user-facing errors with more
/// context than is available here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InterpolationError {
    NoPoints,
    DuplicateX,
    LengthMismatch,
}

/// SLIP-0039 "Polynomial interpolation": evaluates at `x` the unique
/// polynomial of lowest degree through `points`, independently for each byte
/// position of the value vectors.
///
/// The formula needs pairwise distinct x-coordinates (a duplicated x would
/// divide by zero, and the spec's index-encoding rationale warns that
/// accepting forged coordinates lets an attacker pick the secret), so they
/// are rejected rather than silently producing garbage.
pub(crate) fn interpolate(
    points: &[(u8, &[u8])],
    x: u8,
) -> Result<Zeroizing<Vec<u8>>, InterpolationError> {
    let Some(&(_, first)) = points.first() else {
        return Err(InterpolationError::NoPoints);
    };
    let len = first.len();
    for (i, &(xi, yi)) in points.iter().enumerate() {
        if yi.len() != len {
            return Err(InterpolationError::LengthMismatch);
        }
        if points[..i].iter().any(|&(xj, _)| xj == xi) {
            return Err(InterpolationError::DuplicateX);
        }
    }

    let mut result = Zeroizing::new(vec![0u8; len]);
    for (i, &(xi, yi)) in points.iter().enumerate() {
        // Lagrange basis polynomial l_i(x) = prod_{j != i} (x - x_j) / (x_i - x_j);
        // subtraction in characteristic 2 is xor.
        let mut numerator = 1u8;
        let mut denominator = 1u8;
        for (j, &(xj, _)) in points.iter().enumerate() {
            if i != j {
                numerator = mul(numerator, x ^ xj);
                denominator = mul(denominator, xi ^ xj);
            }
        }
        let basis = mul(numerator, inv(denominator));
        for (acc, &y) in result.iter_mut().zip(yi) {
            *acc ^= mul(basis, y);
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Schoolbook carry-less multiplication followed by reduction, as an
    /// independent oracle for `mul`.
    fn slow_mul(a: u8, b: u8) -> u8 {
        let mut wide = 0u16;
        for bit in 0..8 {
            if (b >> bit) & 1 == 1 {
                wide ^= u16::from(a) << bit;
            }
        }
        for bit in (8..16).rev() {
            if (wide >> bit) & 1 == 1 {
                wide ^= 0x11b << (bit - 8);
            }
        }
        u8::try_from(wide).unwrap()
    }

    #[test]
    fn mul_matches_schoolbook() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(mul(a, b), slow_mul(a, b), "{a} * {b}");
            }
        }
    }

    #[test]
    fn fips197_example() {
        // FIPS-197 section 4.2: {57} * {83} = {c1}, {57} * {13} = {fe}.
        assert_eq!(mul(0x57, 0x83), 0xc1);
        assert_eq!(mul(0x57, 0x13), 0xfe);
    }

    #[test]
    fn inverse_of_every_nonzero_element() {
        assert_eq!(inv(0), 0);
        for a in 1..=255u8 {
            assert_eq!(mul(a, inv(a)), 1, "inverse of {a}");
        }
    }

    #[test]
    fn interpolation_recovers_polynomial() {
        // f(x) = 7 + 3x + 11x^2 per byte position, with a second position 0.
        let f = |x: u8| mul(11, mul(x, x)) ^ mul(3, x) ^ 7;
        let ys: Vec<[u8; 2]> = [1u8, 2, 200].iter().map(|&x| [f(x), 0]).collect();
        let points: Vec<(u8, &[u8])> = [1u8, 2, 200]
            .iter()
            .zip(&ys)
            .map(|(&x, y)| (x, &y[..]))
            .collect();
        for x in [0u8, 1, 5, 254, 255] {
            let value = interpolate(&points, x).unwrap();
            assert_eq!(&value[..], &[f(x), 0][..], "at {x}");
        }
    }

    #[test]
    fn interpolation_rejects_bad_input() {
        let a = [1u8, 2];
        let b = [3u8, 4];
        let short = [5u8];
        assert_eq!(interpolate(&[], 0), Err(InterpolationError::NoPoints));
        assert_eq!(
            interpolate(&[(1, &a), (1, &b)], 0),
            Err(InterpolationError::DuplicateX)
        );
        assert_eq!(
            interpolate(&[(1, &a), (2, &short)], 0),
            Err(InterpolationError::LengthMismatch)
        );
    }
}
