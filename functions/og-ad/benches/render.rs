//! Render + encode time per variant, single thread. Run: `cargo bench -p livestatus-og-ad`.
#![allow(missing_docs)] // criterion_group! generates undocumented items
//! Also prints each variant's PNG size for BENCHMARKS.md.

use criterion::{Criterion, criterion_group, criterion_main};
use livestatus_og_ad::{CardParams, Variant, render_png};

fn reference(variant: Variant) -> CardParams {
    let mut card = CardParams::new("Status pages that actually get seen");
    card.subhead = "Post incidents from your monitoring pipeline in one API call".into();
    card.variant = variant;
    card
}

fn bench(c: &mut Criterion) {
    livestatus_og_ad::fonts::fonts();
    let mut group = c.benchmark_group("render+encode");
    for variant in Variant::ALL {
        let card = reference(variant);
        let bytes = render_png(&card).len();
        let (w, h) = variant.size();
        println!("png-size {:<16} {w}x{h} {bytes} bytes", variant.name());
        group.bench_function(variant.name(), |b| b.iter(|| render_png(std::hint::black_box(&card))));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
