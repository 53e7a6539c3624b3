//! The corpus model: who sent a cable, when, how it is classified, what it refers to. The
//! shares follow the real corpus (docs/PERFORMANCE.md, "The corpus model"); station names and
//! routing indicators are real, every word of text is invented (see `text.rs`).

use super::rng::Rng;
use std::collections::HashMap;

/// A sending station: the id's station part, the page's Origin, the FM line, the routing
/// indicator, the country tag, and a relative weight (cables sent, roughly as in the corpus).
pub struct Station {
    pub code: &'static str,
    pub origin: &'static str,
    pub fm: &'static str,
    pub ri: &'static str,
    pub country: &'static str,
    pub weight: u64,
}

macro_rules! st {
    ($c:expr, $o:expr, $f:expr, $r:expr, $t:expr, $w:expr) => {
        Station {
            code: $c,
            origin: $o,
            fm: $f,
            ri: $r,
            country: $t,
            weight: $w,
        }
    };
}

#[rustfmt::skip]
pub const STATIONS: &[Station] = &[
    st!("STATE", "Secretary of State", "SECSTATE WASHDC", "RUEHC", "XX", 80),
    st!("BAGHDAD", "Embassy Baghdad", "AMEMBASSY BAGHDAD", "RUEHGB", "IZ", 66),
    st!("TOKYO", "Embassy Tokyo", "AMEMBASSY TOKYO", "RUEHKO", "JA", 50),
    st!("ANKARA", "Embassy Ankara", "AMEMBASSY ANKARA", "RUEHAK", "TU", 40),
    st!("HONGKONG", "Consulate Hong Kong", "AMCONSUL HONG KONG", "RUEHHK", "HK", 39),
    st!("BEIJING", "Embassy Beijing", "AMEMBASSY BEIJING", "RUEHBJ", "CH", 38),
    st!("KABUL", "Embassy Kabul", "AMEMBASSY KABUL", "RUEHBUL", "AF", 37),
    st!("AITTAIPEI", "American Institute Taiwan, Taipei", "AIT TAIPEI", "RUEHIN", "TW", 36),
    st!("USUNNEWYORK", "USUN New York", "USMISSION USUN NEW YORK", "RUCNDT", "UNSC", 33),
    st!("CAIRO", "Embassy Cairo", "AMEMBASSY CAIRO", "RUEHEG", "EG", 32),
    st!("AMMAN", "Embassy Amman", "AMEMBASSY AMMAN", "RUEHAM", "JO", 30),
    st!("PARIS", "Embassy Paris", "AMEMBASSY PARIS", "RUEHFR", "FR", 28),
    st!("ISLAMABAD", "Embassy Islamabad", "AMEMBASSY ISLAMABAD", "RUEHIL", "PK", 26),
    st!("BRASILIA", "Embassy Brasilia", "AMEMBASSY BRASILIA", "RUEHBR", "BR", 24),
    st!("MOSCOW", "Embassy Moscow", "AMEMBASSY MOSCOW", "RUEHMO", "RS", 24),
    st!("MADRID", "Embassy Madrid", "AMEMBASSY MADRID", "RUEHMD", "SP", 20),
    st!("BERLIN", "Embassy Berlin", "AMEMBASSY BERLIN", "RUEHRL", "GM", 20),
    st!("LONDON", "Embassy London", "AMEMBASSY LONDON", "RUEHLO", "UK", 20),
    st!("ROME", "Embassy Rome", "AMEMBASSY ROME", "RUEHRO", "IT", 18),
    st!("BOGOTA", "Embassy Bogota", "AMEMBASSY BOGOTA", "RUEHBO", "CO", 18),
    st!("CARACAS", "Embassy Caracas", "AMEMBASSY CARACAS", "RUEHCV", "VE", 18),
    st!("NEWDELHI", "Embassy New Delhi", "AMEMBASSY NEW DELHI", "RUEHNE", "IN", 17),
    st!("BUENOSAIRES", "Embassy Buenos Aires", "AMEMBASSY BUENOS AIRES", "RUEHBU", "AR", 16),
    st!("TELAVIV", "Embassy Tel Aviv", "AMEMBASSY TEL AVIV", "RUEHTV", "IS", 16),
    st!("SEOUL", "Embassy Seoul", "AMEMBASSY SEOUL", "RUEHUL", "KS", 15),
    st!("PRETORIA", "Embassy Pretoria", "AMEMBASSY PRETORIA", "RUEHSA", "SF", 14),
    st!("NAIROBI", "Embassy Nairobi", "AMEMBASSY NAIROBI", "RUEHNR", "KE", 14),
    st!("MEXICO", "Embassy Mexico", "AMEMBASSY MEXICO", "RUEHME", "MX", 14),
    st!("BRUSSELS", "Embassy Brussels", "AMEMBASSY BRUSSELS", "RUEHBS", "BE", 13),
    st!("USEUBRUSSELS", "USEU Brussels", "USEU BRUSSELS", "RUEHBS", "EUN", 9),
    st!("UNVIEVIENNA", "UNVIE", "USMISSION UNVIE VIENNA", "RUEHUNV", "IAEA", 10),
    st!("THEHAGUE", "Embassy The Hague", "AMEMBASSY THE HAGUE", "RUEHTC", "NL", 12),
    st!("ALMATY", "Embassy Almaty", "AMEMBASSY ALMATY", "RUEHTA", "KZ", 10),
    st!("ASTANA", "Embassy Astana", "AMEMBASSY ASTANA", "RUEHTA", "KZ", 8),
    st!("TEHRAN", "Embassy Tehran", "AMEMBASSY TEHRAN", "RUEHTH", "IR", 2),
    st!("RIYADH", "Embassy Riyadh", "AMEMBASSY RIYADH", "RUEHRH", "SA", 10),
    st!("BEIRUT", "Embassy Beirut", "AMEMBASSY BEIRUT", "RUEHLB", "LE", 11),
    st!("DAMASCUS", "Embassy Damascus", "AMEMBASSY DAMASCUS", "RUEHDM", "SY", 8),
    st!("KHARTOUM", "Embassy Khartoum", "AMEMBASSY KHARTOUM", "RUEHKH", "SU", 9),
    st!("LAGOS", "Consulate Lagos", "AMCONSUL LAGOS", "RUEHOS", "NI", 6),
    st!("ABUJA", "Embassy Abuja", "AMEMBASSY ABUJA", "RUEHUJA", "NI", 9),
    st!("JAKARTA", "Embassy Jakarta", "AMEMBASSY JAKARTA", "RUEHJA", "ID", 11),
    st!("MANILA", "Embassy Manila", "AMEMBASSY MANILA", "RUEHML", "RP", 11),
    st!("BANGKOK", "Embassy Bangkok", "AMEMBASSY BANGKOK", "RUEHBK", "TH", 12),
    st!("HANOI", "Embassy Hanoi", "AMEMBASSY HANOI", "RUEHHI", "VM", 9),
    st!("CANBERRA", "Embassy Canberra", "AMEMBASSY CANBERRA", "RUEHBY", "AS", 7),
    st!("OTTAWA", "Embassy Ottawa", "AMEMBASSY OTTAWA", "RUEHOT", "CA", 8),
    st!("SANTIAGO", "Embassy Santiago", "AMEMBASSY SANTIAGO", "RUEHSG", "CI", 7),
    st!("LIMA", "Embassy Lima", "AMEMBASSY LIMA", "RUEHPE", "PE", 7),
    st!("HAVANA", "US Interests Section Havana", "USINT HAVANA", "RUEHUB", "CU", 6),
    st!("ATHENS", "Embassy Athens", "AMEMBASSY ATHENS", "RUEHTH", "GR", 7),
    st!("KYIV", "Embassy Kyiv", "AMEMBASSY KYIV", "RUEHKV", "UP", 7),
    st!("TBILISI", "Embassy Tbilisi", "AMEMBASSY TBILISI", "RUEHSI", "GG", 7),
    st!("ADDISABABA", "Embassy Addis Ababa", "AMEMBASSY ADDIS ABABA", "RUEHDS", "ET", 8),
    st!("ISTANBUL", "Consulate Istanbul", "AMCONSUL ISTANBUL", "RUEHIT", "TU", 6),
    st!("SHANGHAI", "Consulate Shanghai", "AMCONSUL SHANGHAI", "RUEHGH", "CH", 7),
    st!("RIODEJANEIRO", "Consulate Rio De Janeiro", "AMCONSUL RIO DE JANEIRO", "RUEHRI", "BR", 4),
    st!("BANDARSERIBEGAWAN", "Embassy Bandar Seri Begawan", "AMEMBASSY BANDAR SERI BEGAWAN", "RUEHBD", "BX", 2),
    st!("REYKJAVIK", "Embassy Reykjavik", "AMEMBASSY REYKJAVIK", "RUEHRK", "IC", 3),
    st!("TRIPOLI", "Embassy Tripoli", "AMEMBASSY TRIPOLI", "RUEHTRO", "LY", 5),
];

/// Cables per year in the real corpus (guides/cablegate-data.md, counted); 1966-1999 share
/// one bucket, spread over those years.
const YEAR_WEIGHTS: &[(u32, u64)] = &[
    (1999, 1_037),
    (2000, 432),
    (2001, 878),
    (2002, 2_570),
    (2003, 8_083),
    (2004, 11_808),
    (2005, 24_131),
    (2006, 42_391),
    (2007, 44_693),
    (2008, 49_446),
    (2009, 56_813),
    (2010, 9_005),
];

/// The six classifications exactly as written, with rough shares (the exact counts are not
/// known; about half of the corpus is unclassified, 6% secret).
pub const CLASSIFICATIONS: &[(&str, u64)] = &[
    ("UNCLASSIFIED", 30),
    ("UNCLASSIFIED//FOR OFFICIAL USE ONLY", 23),
    ("CONFIDENTIAL", 36),
    ("CONFIDENTIAL//NOFORN", 5),
    ("SECRET", 4),
    ("SECRET//NOFORN", 2),
];

/// One cable's metadata; its text is made from `seed` by `text.rs`.
#[derive(Clone)]
pub struct Cable {
    /// 1-based position in the corpus (the csv's row-number column).
    pub row: u64,
    pub id: String,
    pub station: &'static Station,
    pub serial: u32,
    /// Created: year, month, day, hour, minute (UTC).
    pub created: (u32, u32, u32, u32, u32),
    pub classification: &'static str,
    /// Ids of earlier cables this one refers to.
    pub refs: Vec<String>,
    /// The target size of the cable text (header + body), in bytes.
    pub text_len: usize,
    /// Whether WikiLeaks redacted names in it (runs of X).
    pub redacted: bool,
    /// Seed of the cable's own text stream.
    pub seed: u64,
}

/// Draws the cables' metadata in order; ids are unique because serials only grow per
/// station and year.
pub struct CableMaker {
    rng: Rng,
    serials: HashMap<(u32, &'static str), u32>,
    recent: Vec<String>,
}

impl CableMaker {
    pub fn new(seed: u64) -> Self {
        CableMaker {
            rng: Rng::new(seed),
            serials: HashMap::new(),
            recent: Vec::new(),
        }
    }

    pub fn next(&mut self, row: u64) -> Cable {
        let r = &mut self.rng;
        let station = &STATIONS[r.weighted(&STATIONS.iter().map(|s| s.weight).collect::<Vec<_>>())];
        let year = draw_year(r);
        let month = if year == 2010 {
            r.range(1, 2)
        } else {
            r.range(1, 12)
        } as u32;
        let created = (
            year,
            month,
            r.range(1, 28) as u32,
            r.range(0, 23) as u32,
            r.range(0, 59) as u32,
        );
        let serial = self.serials.entry((year, station.code)).or_insert(0);
        // Serials jump as the station sends cables that are not in the corpus.
        *serial += r.range(1, 25) as u32;
        let serial = *serial;
        let id = format!("{:02}{}{}", year % 100, station.code, serial);
        let classification =
            CLASSIFICATIONS[r.weighted(&CLASSIFICATIONS.iter().map(|c| c.1).collect::<Vec<_>>())].0;
        let refs = draw_refs(r, &self.recent);
        let cable = Cable {
            row,
            id: id.clone(),
            station,
            serial,
            created,
            classification,
            refs,
            text_len: draw_text_len(r),
            redacted: r.chance(0.15),
            seed: r.next_u64(),
        };
        // Refer only to recent cables, like real REF lines, and keep the pool small.
        self.recent.push(id);
        if self.recent.len() > 512 {
            self.recent.swap_remove(r.below(512) as usize);
        }
        cable
    }
}

fn draw_year(r: &mut Rng) -> u32 {
    let weights: Vec<u64> = YEAR_WEIGHTS.iter().map(|y| y.1).collect();
    let year = YEAR_WEIGHTS[r.weighted(&weights)].0;
    if year == 1999 {
        r.range(1966, 1999) as u32
    } else {
        year
    }
}

fn draw_refs(r: &mut Rng, recent: &[String]) -> Vec<String> {
    if recent.is_empty() || r.chance(0.45) {
        return Vec::new();
    }
    let n = r.range(1, 4);
    let mut refs: Vec<String> = (0..n).map(|_| r.pick(recent).clone()).collect();
    refs.dedup();
    refs
}

/// Text sizes: log-normal with a mean near 6 KB of body (median about 4.4 KB; with the
/// header and the rare long cables a row averages about 6.8 KB, as 1.7 GB / 251,287), clamped to 1-60 KB,
/// and one cable in 500 far larger (100-400 KB), like the long reporting cables.
fn draw_text_len(r: &mut Rng) -> usize {
    if r.chance(0.002) {
        return r.range(100_000, 400_000) as usize;
    }
    let sigma = 0.8;
    let mu = 6_000f64.ln() - sigma * sigma / 2.0;
    (mu + sigma * r.normal()).exp().clamp(1_000.0, 60_000.0) as usize
}
