#!/usr/bin/env bash
# Fetches Apache Kafka's broker from Maven Central (org.apache.kafka:kafka_2.13 and its runtime
# dependencies, plus the SLF4J binding to log4j2 that the distribution ships but the pom does
# not pull), for the KafkaTrigger tests: they run it in KRaft mode with the JDK that
# scripts/setup.sh installs. About 10 s cold; cached by version; idempotent.
#
# Usage: fetch-kafka.sh   (prints the folder of the jars:
#        ${FNHOST_BROKERS_DIR:-$HOME/.cache/fnhost-brokers}/kafka-<version>/libs)
set -euo pipefail

VERSION=4.4.0
LOG4J_VERSION=2.25.5
DIR=${FNHOST_BROKERS_DIR:-$HOME/.cache/fnhost-brokers}/kafka-$VERSION
LIBS=$DIR/libs
if [ -f "$LIBS/kafka_2.13-$VERSION.jar" ] && [ -f "$DIR/.complete" ]; then
    echo "$LIBS"; exit 0
fi
command -v mvn >/dev/null || { echo "fetch-kafka: mvn is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
echo "fetch-kafka: resolving org.apache.kafka:kafka_2.13:$VERSION from Maven Central" >&2
rm -rf "$DIR"
mkdir -p "$DIR"
cat >"$DIR/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.fnhost</groupId>
  <artifactId>kafka-broker-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
POM
(cd "$DIR" && mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$LIBS" >&2)
[ -f "$LIBS/kafka_2.13-$VERSION.jar" ] || { echo "fetch-kafka: kafka_2.13-$VERSION.jar was not fetched" >&2; exit 1; }
touch "$DIR/.complete"
echo "fetch-kafka: $(find "$LIBS" -name '*.jar' | wc -l) jars in $LIBS" >&2
echo "$LIBS"
