//! `slerp`: spherical interpolation from the base (t = 0) to the other model (t = 1) over
//! the whole flattened tensor; nearly parallel tensors (|cos| > 0.9995) fall back to lerp.
//! Follows mergekit's `slerp.py` (directions normalized only when the norm exceeds 1e-8).
//!
//! ## References
//! - Shoemake, Animating rotation with quaternion curves (SIGGRAPH 1985)

use super::common::{base_of, global};
use crate::error::Result;
use crate::merge::inputs::TensorInputs;
use crate::merge::job::TensorJob;
use crate::merge::registry::MergeOptions;

const DOT_THRESHOLD: f64 = 0.9995;
const EPS: f64 = 1e-8;

/// Merges one tensor.
pub fn merge(
    job: &TensorJob,
    inputs: &TensorInputs,
    _: &MergeOptions,
    dst: &mut [u8],
) -> Result<()> {
    let base = base_of(job)?;
    let other = job.others()[0];
    let t = global(job, "t")?;
    let (n0, n1, d) = inputs.fold_chunks(
        &[base, other],
        || (0f64, 0f64, 0f64),
        |(a, b, c), _, ins| {
            let (mut a, mut b, mut c) = (a, b, c);
            for (x, y) in ins[0].iter().zip(ins[1]) {
                let (x, y) = (*x as f64, *y as f64);
                a += x * x;
                b += y * y;
                c += x * y;
            }
            (a, b, c)
        },
        |p, q| (p.0 + q.0, p.1 + q.1, p.2 + q.2),
    );
    let (n0, n1) = (n0.sqrt(), n1.sqrt());
    let s0n = if n0 > EPS { n0 } else { 1.0 };
    let s1n = if n1 > EPS { n1 } else { 1.0 };
    let cos = d / (s0n * s1n);
    let (c0, c1) = coefficients(t, cos);
    let (c0, c1) = (c0 as f32, c1 as f32);
    inputs.map_chunks(&[base, other], job.out_dtype, dst, |_, ins, out| {
        for ((o, a), b) in out.iter_mut().zip(ins[0]).zip(ins[1]) {
            *o = c0 * a + c1 * b;
        }
    });
    Ok(())
}

/// Coefficients `(s0, s1)` with `slerp = s0·v0 + s1·v1`, given the cosine of the angle.
pub fn coefficients(t: f64, cos: f64) -> (f64, f64) {
    if cos.abs() > DOT_THRESHOLD {
        return (1.0 - t, t);
    }
    let theta0 = cos.acos();
    let sin0 = theta0.sin();
    let theta_t = theta0 * t;
    ((theta0 - theta_t).sin() / sin0, theta_t.sin() / sin0)
}
