#!/usr/bin/env bash
# Apache Kafka for the tests: the broker's jars (kafka_2.13 and its runtime
# dependencies, plus an slf4j binding), resolved from Maven Central with mvn
# into var/apache-kafka/<version>/libs. tests/kafka_apache/broker.py runs
# kafka.Kafka (KRaft) from that classpath. Apache Kafka is on no other registry.
#
# Idempotent: skips when the libs of the pom's version are complete.
# Cost: ~25 s and ~56 MB with a cold ~/.m2 (jars + Maven plugins), ~3 s warm, 0 s when done.
# Needs: java (17+) and maven; both are Debian packages (requirements/apt.txt).
set -euo pipefail
cd "$(dirname "$0")/../.."

pom=tests/kafka_apache/pom.xml
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")
dest=var/apache-kafka/$version/libs
log() { printf '[setup] apache-kafka: %s\n' "$*" >&2; }

if [[ -f $dest/.complete ]]; then
  exit 0
fi
for tool in java mvn; do
  command -v "$tool" >/dev/null || { log "$tool not found: install the Debian packages in requirements/apt.txt"; exit 1; }
done
log "resolving org.apache.kafka:kafka_2.13:$version from Maven Central into $dest"
start=$SECONDS
rm -rf "$dest.tmp"
mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$PWD/$dest.tmp"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
touch "$dest/.complete"
log "done in $((SECONDS - start)) s ($(ls "$dest" | wc -l) jars)"
