#!/usr/bin/env bash
# Builds the Debian package of xml2prom: target/debian/xml2prom_VERSION-1_ARCH.deb (under
# CARGO_TARGET_DIR when that is set).
#
#   deploy/deb/build.sh                      # release profile (fat LTO): packages for users
#   deploy/deb/build.sh --profile NAME       # another optimised profile of Cargo.toml
#
# Needs cargo-deb 3.8.0: cargo install cargo-deb --version 3.8.0 --locked
#
# cargo-deb packages files but cannot run the binary it packages, so this script does what
# needs the binary first: it builds xml2prom, has it write its man pages (xml2prom(1) and one
# page per subcommand) and its bash, zsh and fish completions into target/deb-assets/, copies
# the systemd units of deploy/systemd/ there with ExecStart= pointing at /usr/bin/xml2prom, and
# then runs `cargo deb --no-build`, which reads [package.metadata.deb] in Cargo.toml.
set -euo pipefail

readonly cargo_deb_version=3.8.0

usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
}

profile=release
while (($#)); do
    case "$1" in
        --profile)
            (($# >= 2)) || { echo "build.sh: --profile needs a profile name" >&2; exit 2; }
            profile="$2"
            shift 2
            ;;
        --profile=*)
            profile="${1#--profile=}"
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            echo "build.sh: unknown argument \`$1\`" >&2
            usage >&2
            exit 2
            ;;
    esac
done
if [[ "$profile" == dev || "$profile" == test || "$profile" == bench ]]; then
    echo "build.sh: a package is built with an optimised profile (release or one that inherits it), not \`$profile\`" >&2
    exit 2
fi

cd "$(dirname "$0")/../.."
root="$PWD"

if ! installed="$(cargo deb --version 2>/dev/null)"; then
    echo "build.sh: cargo-deb is not installed; install it with:" >&2
    echo "  cargo install cargo-deb --version $cargo_deb_version --locked" >&2
    exit 1
fi
if [[ "$installed" != "cargo-deb $cargo_deb_version" ]]; then
    echo "build.sh: found $installed, but the package is tested with cargo-deb $cargo_deb_version;" >&2
    echo "  cargo install cargo-deb --version $cargo_deb_version --locked --force" >&2
    exit 1
fi

echo "build.sh: building xml2prom with the $profile profile" >&2
cargo build --locked --profile "$profile" --package xml2prom --bin xml2prom

# Where cargo put it: CARGO_TARGET_DIR and .cargo/config's build.target-dir both count.
target_dir="$(cargo metadata --format-version 1 --no-deps --locked \
    | grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)"
binary="$target_dir/$profile/xml2prom"
test -x "$binary" || { echo "build.sh: cargo built no $binary" >&2; exit 1; }

assets="$root/target/deb-assets"
rm -rf "$assets"
mkdir -p "$assets/man" "$assets/completions" "$assets/systemd"

# One page per subcommand, as `xml2prom --help` lists them; `xml2prom man SUBCOMMAND` fails
# (and so does this script) if the two ever disagree.
"$binary" man >"$assets/man/xml2prom.1"
subcommands="$("$binary" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && $1 != "help" && NF { print $1 }')"
test -n "$subcommands" || { echo "build.sh: found no subcommands in \`xml2prom --help\`" >&2; exit 1; }
for subcommand in $subcommands; do
    "$binary" man "$subcommand" >"$assets/man/xml2prom-$subcommand.1"
done

"$binary" completions bash >"$assets/completions/xml2prom.bash"
"$binary" completions zsh >"$assets/completions/_xml2prom"
"$binary" completions fish >"$assets/completions/xml2prom.fish"

# The units in deploy/systemd/ are written for a binary installed by hand in /usr/local/bin.
for unit in deploy/systemd/*.service deploy/systemd/*.timer; do
    name="$(basename "$unit")"
    {
        echo "# Installed by the xml2prom Debian package, disabled. Change paths or flags with"
        echo "# \`systemctl edit ${name}\`, then \`systemctl enable --now\` it (README, \"Install\")."
        sed 's|/usr/local/bin/xml2prom|/usr/bin/xml2prom|g' "$unit"
    } >"$assets/systemd/$name"
    if grep -q '^ExecStart=' "$assets/systemd/$name" \
        && ! grep -q '^ExecStart=/usr/bin/xml2prom ' "$assets/systemd/$name"; then
        echo "build.sh: $unit: ExecStart= does not run /usr/local/bin/xml2prom; update this script" >&2
        exit 1
    fi
done

# Debian wants a changelog of the packaging as well as the program's own (CHANGELOG.md, shipped
# as changelog.gz). Dated by the last commit, so that a rebuild writes the same file.
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
maintainer="$(sed -n 's/^maintainer = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
date="$(git log -1 --format=%aD 2>/dev/null || date -R)"
cat >"$assets/changelog.Debian" <<EOF
xml2prom ($version-1) unstable; urgency=medium

  * xml2prom $version, packaged by deploy/deb/build.sh. Its changes are in
    /usr/share/doc/xml2prom/changelog.gz.

 -- $maintainer  $date
EOF

cargo deb --no-build --locked --profile "$profile" --output "$target_dir/debian/"
