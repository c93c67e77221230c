//! Pin-set exports (issue 3 item 8): one function per platform, each writing that platform's
//! documented format, byte for byte the same for the same set.
//!
//! Owns the renderings and the escaping they need. Invariants: pins appear in set order and
//! nothing depends on a clock or a hash map, so an export is deterministic; every string that
//! comes from the set (hostname, label) is escaped for the place it lands (XML text, XML
//! comment, Kotlin / Swift string or line comment, JSON string), and labels only ever land in
//! comments. The functions never refuse: the caller lints first and refuses an export while
//! [`super::lint::blocks_export`] is true.

use serde::{Deserialize, Serialize};

use super::{PinEntry, PinSet};

/// The formats a pin set can be exported to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// [`android_network_security_config`]
    Android,
    /// [`ios_pinned_domains_plist`]
    Ios,
    /// [`trustkit_plist`]
    TrustKit,
    /// [`trustkit_swift`]
    TrustKitSwift,
    /// [`okhttp_kotlin`]
    OkHttp,
    /// [`json`]
    Json,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 6] = [
        ExportFormat::Android,
        ExportFormat::Ios,
        ExportFormat::TrustKit,
        ExportFormat::TrustKitSwift,
        ExportFormat::OkHttp,
        ExportFormat::Json,
    ];

    /// The name to download the export under.
    pub fn file_name(self) -> &'static str {
        match self {
            ExportFormat::Android => "network_security_config.xml",
            ExportFormat::Ios => "Info-NSPinnedDomains.plist",
            ExportFormat::TrustKit => "Info-TrustKit.plist",
            ExportFormat::TrustKitSwift => "TrustKitConfig.swift",
            ExportFormat::OkHttp => "CertificatePinner.kt",
            ExportFormat::Json => "pinset.json",
        }
    }

    /// A title for people.
    pub fn title(self) -> &'static str {
        match self {
            ExportFormat::Android => "Android network security config",
            ExportFormat::Ios => "iOS Info.plist (NSPinnedDomains)",
            ExportFormat::TrustKit => "TrustKit Info.plist (TSKConfiguration)",
            ExportFormat::TrustKitSwift => "TrustKit Swift configuration",
            ExportFormat::OkHttp => "OkHttp CertificatePinner (Kotlin)",
            ExportFormat::Json => "Palisade JSON",
        }
    }
}

/// Renders `set` in `format`.
pub fn render(format: ExportFormat, set: &PinSet) -> String {
    match format {
        ExportFormat::Android => android_network_security_config(set),
        ExportFormat::Ios => ios_pinned_domains_plist(set),
        ExportFormat::TrustKit => trustkit_plist(set),
        ExportFormat::TrustKitSwift => trustkit_swift(set),
        ExportFormat::OkHttp => okhttp_kotlin(set),
        ExportFormat::Json => json(set),
    }
}

/// What the set's expiration date means on each platform, shown beside the export.
pub fn expiry_note(format: ExportFormat) -> &'static str {
    match format {
        ExportFormat::Android => {
            "Android stops enforcing these pins after the expiration date: connections then \
             succeed with any publicly trusted certificate (pinning fails open), so an app that \
             is never updated cannot be bricked past that date, but it is no longer pinned."
        }
        ExportFormat::TrustKit | ExportFormat::TrustKitSwift => {
            "TrustKit stops enforcing these pins after TSKExpirationDate (read as midnight UTC): \
             pinning fails open, so an app that is never updated cannot be bricked past that \
             date, but it is no longer pinned."
        }
        ExportFormat::Ios => {
            "iOS NSPinnedDomains has no expiration: the pins are enforced until an app update \
             replaces them, so a stale set bricks the app until users install that update. \
             Keep a real backup pin and ship a new set before rotating."
        }
        ExportFormat::OkHttp => {
            "OkHttp CertificatePinner has no expiration: the pins are enforced until an app \
             update replaces them, so a stale set bricks the app until users install that \
             update. Keep a real backup pin and ship a new set before rotating."
        }
        ExportFormat::Json => {
            "The JSON carries the expiration date as data; what it means depends on the app \
             that reads it (fail open after the date like Android, or ignore it like iOS)."
        }
    }
}

/// Android `res/xml/network_security_config.xml` with one `domain-config` holding the set's
/// `pin-set` (API 24+), referenced from the manifest as
/// `android:networkSecurityConfig="@xml/network_security_config"`.
///
/// Format: <https://developer.android.com/privacy-and-security/security-config#CertificatePinning>
/// (`domain includeSubdomains`, `pin-set expiration` in `yyyy-MM-dd`, `pin digest="SHA-256"`
/// holding the base64 SPKI SHA-256). XML declaration, 4-space indents, `\n` line ends, escaped
/// text; each pin is preceded by a comment naming its role and label.
pub fn android_network_security_config(set: &PinSet) -> String {
    let mut o = String::new();
    o.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    push_xml_comment(&mut o, "", &header(set, "Android network security config"));
    push_xml_comment(&mut o, "", expiry_note(ExportFormat::Android));
    o.push_str("<network-security-config>\n");
    o.push_str("    <domain-config>\n");
    o.push_str(&format!(
        "        <domain includeSubdomains=\"{}\">{}</domain>\n",
        set.include_subdomains,
        xml_escape(&set.hostname)
    ));
    o.push_str(&format!(
        "        <pin-set expiration=\"{}\">\n",
        set.expires_on.format("%Y-%m-%d")
    ));
    for e in &set.pins {
        push_xml_comment(&mut o, "            ", &entry_comment(e));
        o.push_str(&format!(
            "            <pin digest=\"SHA-256\">{}</pin>\n",
            xml_escape(&e.pin.to_base64())
        ));
    }
    o.push_str("        </pin-set>\n");
    o.push_str("    </domain-config>\n");
    o.push_str("</network-security-config>\n");
    o
}

/// iOS / macOS App Transport Security identity pinning (iOS 14+): a complete property list with
/// `NSAppTransportSecurity` → `NSPinnedDomains` → hostname → `NSIncludesSubdomains` (boolean),
/// and the `SPKI-SHA256-BASE64` digests of the set in `NSPinnedCAIdentities` (intermediate and
/// root pins) and `NSPinnedLeafIdentities` (current, next and backup leaf keys). Merge it into
/// the app's Info.plist.
///
/// Format: <https://developer.apple.com/documentation/bundleresources/information-property-list/nsapptransportsecurity/nspinneddomains>,
/// <https://developer.apple.com/documentation/bundleresources/information-property-list/nspinnedleafidentities>,
/// <https://developer.apple.com/documentation/bundleresources/information-property-list/nspinnedcaidentities>.
///
/// Consequence of the split: Apple requires a match in **each** array present ("If you include
/// both, then both must produce a match"). A set with CA and leaf pins therefore only accepts a
/// chain whose leaf key is pinned *and* that runs through a pinned CA; the linter warns about it
/// (`ios_both_arrays`). A set with leaf pins only writes `NSPinnedLeafIdentities` alone. Keys are
/// in Xcode's (alphabetical) order; tabs indent, as Xcode writes plists.
pub fn ios_pinned_domains_plist(set: &PinSet) -> String {
    let ca: Vec<&PinEntry> = set.pins.iter().filter(|e| e.role.is_ca()).collect();
    let leaf: Vec<&PinEntry> = set.pins.iter().filter(|e| !e.role.is_ca()).collect();
    let mut o = plist_open();
    push_xml_comment(&mut o, "", &header(set, "iOS NSPinnedDomains"));
    push_xml_comment(&mut o, "", expiry_note(ExportFormat::Ios));
    if !ca.is_empty() && !leaf.is_empty() {
        push_xml_comment(
            &mut o,
            "",
            "Both NSPinnedCAIdentities and NSPinnedLeafIdentities are present: iOS requires a \
             match in each, so the served chain must carry a pinned leaf key and a pinned CA key.",
        );
    }
    o.push_str("<plist version=\"1.0\">\n<dict>\n");
    o.push_str("\t<key>NSAppTransportSecurity</key>\n\t<dict>\n");
    o.push_str("\t\t<key>NSPinnedDomains</key>\n\t\t<dict>\n");
    o.push_str(&format!(
        "\t\t\t<key>{}</key>\n\t\t\t<dict>\n",
        xml_escape(&set.hostname)
    ));
    o.push_str("\t\t\t\t<key>NSIncludesSubdomains</key>\n");
    o.push_str(&format!("\t\t\t\t{}\n", plist_bool(set.include_subdomains)));
    let mut identities = |key: &str, entries: &[&PinEntry]| {
        o.push_str(&format!("\t\t\t\t<key>{key}</key>\n\t\t\t\t<array>\n"));
        for e in entries {
            push_xml_comment(&mut o, "\t\t\t\t\t", &entry_comment(e));
            o.push_str("\t\t\t\t\t<dict>\n\t\t\t\t\t\t<key>SPKI-SHA256-BASE64</key>\n");
            o.push_str(&format!(
                "\t\t\t\t\t\t<string>{}</string>\n",
                xml_escape(&e.pin.to_base64())
            ));
            o.push_str("\t\t\t\t\t</dict>\n");
        }
        o.push_str("\t\t\t\t</array>\n");
    };
    if !ca.is_empty() {
        identities("NSPinnedCAIdentities", &ca);
    }
    if !leaf.is_empty() || ca.is_empty() {
        identities("NSPinnedLeafIdentities", &leaf);
    }
    o.push_str("\t\t\t</dict>\n\t\t</dict>\n\t</dict>\n</dict>\n</plist>\n");
    o
}

/// TrustKit's Info.plist policy: a complete property list whose `TSKConfiguration` dictionary
/// holds `TSKSwizzleNetworkDelegates` (false: the app calls TrustKit's validator itself) and
/// `TSKPinnedDomains` → hostname → `TSKEnforcePinning` (true), `TSKExpirationDate`
/// (`yyyy-MM-dd` string), `TSKIncludeSubdomains` (boolean) and `TSKPublicKeyHashes` (array of
/// base64 SPKI SHA-256 strings, in set order). Merge the `TSKConfiguration` key into Info.plist.
///
/// The key strings are the values of TrustKit's `kTSK…` constants (`TSKTrustKitConfig.m`);
/// TrustKit refuses a domain with fewer than two hashes while pinning is enforced.
/// Format: <https://github.com/datatheorem/TrustKit/blob/master/docs/getting-started.md> and
/// <https://datatheorem.github.io/TrustKit/documentation/>.
pub fn trustkit_plist(set: &PinSet) -> String {
    let mut o = plist_open();
    push_xml_comment(&mut o, "", &header(set, "TrustKit"));
    push_xml_comment(&mut o, "", expiry_note(ExportFormat::TrustKit));
    o.push_str("<plist version=\"1.0\">\n<dict>\n");
    o.push_str("\t<key>TSKConfiguration</key>\n\t<dict>\n");
    o.push_str("\t\t<key>TSKPinnedDomains</key>\n\t\t<dict>\n");
    o.push_str(&format!(
        "\t\t\t<key>{}</key>\n\t\t\t<dict>\n",
        xml_escape(&set.hostname)
    ));
    o.push_str("\t\t\t\t<key>TSKEnforcePinning</key>\n\t\t\t\t<true/>\n");
    o.push_str(&format!(
        "\t\t\t\t<key>TSKExpirationDate</key>\n\t\t\t\t<string>{}</string>\n",
        set.expires_on.format("%Y-%m-%d")
    ));
    o.push_str(&format!(
        "\t\t\t\t<key>TSKIncludeSubdomains</key>\n\t\t\t\t{}\n",
        plist_bool(set.include_subdomains)
    ));
    o.push_str("\t\t\t\t<key>TSKPublicKeyHashes</key>\n\t\t\t\t<array>\n");
    for e in &set.pins {
        push_xml_comment(&mut o, "\t\t\t\t\t", &entry_comment(e));
        o.push_str(&format!(
            "\t\t\t\t\t<string>{}</string>\n",
            xml_escape(&e.pin.to_base64())
        ));
    }
    o.push_str("\t\t\t\t</array>\n\t\t\t</dict>\n\t\t</dict>\n");
    o.push_str("\t\t<key>TSKSwizzleNetworkDelegates</key>\n\t\t<false/>\n");
    o.push_str("\t</dict>\n</dict>\n</plist>\n");
    o
}

/// The same TrustKit policy as [`trustkit_plist`], as the Swift dictionary passed to
/// `TrustKit.initSharedInstance(withConfiguration:)`, keyed by TrustKit's `kTSK…` constants.
///
/// Format: <https://github.com/datatheorem/TrustKit#sample-usage> and
/// <https://datatheorem.github.io/TrustKit/documentation/>.
pub fn trustkit_swift(set: &PinSet) -> String {
    let mut o = String::new();
    push_line_comment(&mut o, "", &header(set, "TrustKit"));
    push_line_comment(&mut o, "", expiry_note(ExportFormat::TrustKitSwift));
    o.push_str("let trustKitConfig: [String: Any] = [\n");
    o.push_str("    kTSKSwizzleNetworkDelegates: false,\n");
    o.push_str("    kTSKPinnedDomains: [\n");
    o.push_str(&format!("        {}: [\n", swift_string(&set.hostname)));
    o.push_str(&format!(
        "            kTSKIncludeSubdomains: {},\n",
        set.include_subdomains
    ));
    o.push_str("            kTSKEnforcePinning: true,\n");
    o.push_str(&format!(
        "            kTSKExpirationDate: \"{}\",\n",
        set.expires_on.format("%Y-%m-%d")
    ));
    if set.pins.is_empty() {
        o.push_str("            kTSKPublicKeyHashes: [] as [String],\n");
    } else {
        o.push_str("            kTSKPublicKeyHashes: [\n");
        for e in &set.pins {
            push_line_comment(&mut o, "                ", &entry_comment(e));
            o.push_str(&format!(
                "                {},\n",
                swift_string(&e.pin.to_base64())
            ));
        }
        o.push_str("            ],\n");
    }
    o.push_str("        ],\n    ],\n]\n");
    o.push_str("TrustKit.initSharedInstance(withConfiguration: trustKitConfig)\n");
    o
}

/// OkHttp `CertificatePinner` in Kotlin: one `.add(pattern, "sha256/<base64>")` per pin, in set
/// order, then `.build()`; pass the result to `OkHttpClient.Builder().certificatePinner(…)`.
///
/// With include-subdomains the pattern is `**.<host>`, which OkHttp matches against the host
/// itself and any number of labels in front of it (`api.example.com`, `a.b.api.example.com`);
/// `*.<host>` would match exactly one extra label and, worse, not the host itself, leaving it
/// unpinned. Without include-subdomains the pattern is the plain host.
///
/// Format: <https://square.github.io/okhttp/5.x/okhttp/okhttp3/-certificate-pinner/index.html>.
pub fn okhttp_kotlin(set: &PinSet) -> String {
    let pattern = if set.include_subdomains {
        format!("**.{}", set.hostname)
    } else {
        set.hostname.clone()
    };
    let pattern = kotlin_string(&pattern);
    let mut o = String::new();
    push_line_comment(&mut o, "", &header(set, "OkHttp okhttp3.CertificatePinner"));
    push_line_comment(&mut o, "", expiry_note(ExportFormat::OkHttp));
    o.push_str("val certificatePinner = CertificatePinner.Builder()\n");
    for e in &set.pins {
        push_line_comment(&mut o, "    ", &entry_comment(e));
        o.push_str(&format!(
            "    .add({pattern}, {})\n",
            kotlin_string(&format!("sha256/{}", e.pin.to_base64()))
        ));
    }
    o.push_str("    .build()\n");
    o
}

/// Palisade's own JSON rendering, for scripts and app builds that read pins from a file.
///
/// ```json
/// {
///   "format": "palisade-pinset",       // constant
///   "format_version": 1,               // bumped on any incompatible change
///   "hostname": "api.example.com",
///   "include_subdomains": true,
///   "expires_on": "2026-06-01",        // yyyy-MM-dd
///   "version": 7,                      // the pin set's version
///   "pins": [                          // in set order
///     {
///       "sha256": "<base64 SPKI SHA-256, 44 chars>",
///       "label": "free text",
///       "role": "current_leaf | next_key | intermediate | root | backup",
///       "custody": "held_here | held_offline | ca_managed | unknown"
///     }
///   ]
/// }
/// ```
///
/// Pretty-printed exactly as `serde_json::to_string_pretty` would (2-space indents, keys in the
/// order above), without a trailing newline. Written by hand so it cannot fail.
pub fn json(set: &PinSet) -> String {
    let mut o = String::from("{\n");
    o.push_str("  \"format\": \"palisade-pinset\",\n");
    o.push_str("  \"format_version\": 1,\n");
    o.push_str(&format!(
        "  \"hostname\": {},\n",
        json_string(&set.hostname)
    ));
    o.push_str(&format!(
        "  \"include_subdomains\": {},\n",
        set.include_subdomains
    ));
    o.push_str(&format!(
        "  \"expires_on\": \"{}\",\n",
        set.expires_on.format("%Y-%m-%d")
    ));
    o.push_str(&format!("  \"version\": {},\n", set.version));
    if set.pins.is_empty() {
        o.push_str("  \"pins\": []\n");
    } else {
        o.push_str("  \"pins\": [\n");
        for (i, e) in set.pins.iter().enumerate() {
            o.push_str("    {\n");
            o.push_str(&format!("      \"sha256\": \"{}\",\n", e.pin.to_base64()));
            o.push_str(&format!("      \"label\": {},\n", json_string(&e.label)));
            o.push_str(&format!("      \"role\": \"{}\",\n", role_name(e)));
            o.push_str(&format!("      \"custody\": \"{}\"\n", custody_name(e)));
            o.push_str(if i + 1 == set.pins.len() {
                "    }\n"
            } else {
                "    },\n"
            });
        }
        o.push_str("  ]\n");
    }
    o.push('}');
    o
}

fn role_name(e: &PinEntry) -> &'static str {
    use super::PinRole::*;
    match e.role {
        CurrentLeaf => "current_leaf",
        NextKey => "next_key",
        Intermediate => "intermediate",
        Root => "root",
        Backup => "backup",
    }
}

fn custody_name(e: &PinEntry) -> &'static str {
    use super::KeyCustody::*;
    match e.custody {
        HeldHere => "held_here",
        HeldOffline => "held_offline",
        CaManaged => "ca_managed",
        Unknown => "unknown",
    }
}

fn header(set: &PinSet, what: &str) -> String {
    format!(
        "Palisade pin set for {}, version {}, {} pin(s): {what}.",
        set.hostname,
        set.version,
        set.pins.len()
    )
}

fn entry_comment(e: &PinEntry) -> String {
    let label = one_line(&e.label, 80);
    if label.is_empty() {
        e.role.describe().to_string()
    } else {
        format!("{}: {label}", e.role.describe())
    }
}

fn plist_open() -> String {
    String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \
         \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n",
    )
}

fn plist_bool(b: bool) -> &'static str {
    if b {
        "<true/>"
    } else {
        "<false/>"
    }
}

/// Characters that would break a line or reorder what an editor shows ("Trojan Source",
/// CVE-2021-42574): line and paragraph separators and the bidirectional controls.
fn is_hazard(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
                | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'
                | '\u{fffe}' | '\u{ffff}'
        )
}

/// Free text reduced to one harmless line of at most `max_chars` characters: hazardous
/// characters become spaces, runs of whitespace collapse, the ends are trimmed.
pub(crate) fn one_line(s: &str, max_chars: usize) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| if is_hazard(c) { ' ' } else { c })
        .collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let joined = words.join(" ");
    if joined.chars().count() <= max_chars {
        joined
    } else {
        let mut cut: String = joined.chars().take(max_chars.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// An XML comment line (XML 1.0 §2.5: the text may not contain `--`). Entities are not
/// recognised in comments, so `--` is collapsed instead of escaped.
fn push_xml_comment(o: &mut String, indent: &str, text: &str) {
    let mut t = one_line(text, 400);
    while t.contains("--") {
        t = t.replace("--", "-");
    }
    o.push_str(&format!("{indent}<!-- {t} -->\n"));
}

/// A `//` comment line for Kotlin and Swift; [`one_line`] removes every line terminator.
fn push_line_comment(o: &mut String, indent: &str, text: &str) {
    o.push_str(&format!("{indent}// {}\n", one_line(text, 400)));
}

/// XML character data and attribute values (XML 1.0 §2.4, §2.3); characters XML 1.0 cannot
/// carry at all become U+FFFD.
pub(crate) fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\t' | '\n' | '\r' => o.push(c),
            c if c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' => o.push('\u{fffd}'),
            c => o.push(c),
        }
    }
    o
}

/// A Kotlin string literal: `\`, `"` and `$` (templates) escaped, anything hazardous as `\uXXXX`.
fn kotlin_string(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '$' => o.push_str("\\$"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            // Every hazard is in the Basic Multilingual Plane, so four hex digits suffice.
            c if is_hazard(c) => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// A Swift string literal: `\` (also interpolation) and `"` escaped, anything hazardous as `\u{…}`.
fn swift_string(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if is_hazard(c) => o.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// A JSON string (RFC 8259 §7), escaped exactly as serde_json does.
fn json_string(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            '\u{8}' => o.push_str("\\b"),
            '\u{c}' => o.push_str("\\f"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}
