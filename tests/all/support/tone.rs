//! How a decoded tone compares with its source, 10 ms (480 samples at 48 kHz) at a time: the
//! check that a transcode's joins neither click nor slip.

/// Samples in a window: 10 ms at 48 kHz.
pub const WINDOW: usize = 480;

/// One window of a decoded tone beside the same window of its source.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// RMS of the difference from the source.
    pub error: f64,
    /// RMS of the decoded samples.
    pub level: f64,
    /// RMS of the source's.
    pub want: f64,
    /// Zero crossings of the decoded samples.
    pub crossings: usize,
}

/// `got` and `want` (mono) compared window by window, as far as both go.
pub fn windows(got: &[i16], want: &[i16]) -> Vec<Window> {
    let rms = |samples: &mut dyn Iterator<Item = f64>| {
        (samples.map(|x| x * x).sum::<f64>() / WINDOW as f64).sqrt()
    };
    got.chunks_exact(WINDOW)
        .zip(want.chunks_exact(WINDOW))
        .map(|(got, want)| Window {
            error: rms(&mut got.iter().zip(want).map(|(&a, &b)| f64::from(a) - f64::from(b))),
            level: rms(&mut got.iter().map(|&a| f64::from(a))),
            want: rms(&mut want.iter().map(|&b| f64::from(b))),
            crossings: got.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count(),
        })
        .collect()
}
