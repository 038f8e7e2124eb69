//! The embedded Inter subsets (OFL-1.1, see `fonts/OFL.txt`), parsed once per process on
//! first use, so a cold start that serves no image never pays for them.

use std::sync::OnceLock;

use fontdue::{Font, FontSettings};

/// The three faces the card uses.
pub struct Fonts {
    /// Inter Display Bold, for the headline.
    pub display: Font,
    /// Inter SemiBold, for the brand and the call to action.
    pub semibold: Font,
    /// Inter Regular, for the subhead.
    pub regular: Font,
}

static DISPLAY: &[u8] = include_bytes!("../fonts/InterDisplay-Bold.subset.otf");
static SEMIBOLD: &[u8] = include_bytes!("../fonts/Inter-SemiBold.subset.otf");
static REGULAR: &[u8] = include_bytes!("../fonts/Inter-Regular.subset.otf");

fn parse(bytes: &'static [u8]) -> Font {
    Font::from_bytes(bytes, FontSettings { scale: 40.0, ..FontSettings::default() }).expect("embedded font parses")
}

/// The fonts, parsed on first call.
pub fn fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(|| Fonts { display: parse(DISPLAY), semibold: parse(SEMIBOLD), regular: parse(REGULAR) })
}
