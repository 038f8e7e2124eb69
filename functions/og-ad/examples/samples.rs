//! Writes a sample card for every variant and theme to `docs/og-ad/` (or the directory
//! given): `cargo run --release -p livestatus-og-ad --example samples`.

use livestatus_og_ad::{CardParams, Theme, Variant, render_png};

fn main() -> std::io::Result<()> {
    let dir =
        std::env::args().nth(1).unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/og-ad").to_owned());
    std::fs::create_dir_all(&dir)?;
    for theme in [Theme::Dark, Theme::Light] {
        for variant in Variant::ALL {
            let mut card = CardParams::new("Status pages that actually get seen");
            card.subhead = "Post incidents from your monitoring pipeline in one API call".into();
            card.variant = variant;
            card.theme = theme;
            let name = format!("{dir}/{}-{}.png", variant.name(), if theme == Theme::Dark { "dark" } else { "light" });
            std::fs::write(&name, render_png(&card))?;
            println!("{name}");
        }
    }
    Ok(())
}
