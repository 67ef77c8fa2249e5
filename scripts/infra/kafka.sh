#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft, broker+controller in one JVM) for local development and tests,
# from plain Maven Central jars: no tarball, no Docker. Listens on 127.0.0.1 only.
#
#   scripts/infra/kafka.sh fetch    download the broker jars once into $CITYLOOP_CACHE (shared by clones)
#   scripts/infra/kafka.sh start    reuse a broker already answering on 127.0.0.1:$KAFKA_PORT, else start one
#   scripts/infra/kafka.sh stop     stop the broker this checkout started (pid file): SIGTERM, 30 s, SIGKILL
#   scripts/infra/kafka.sh status   exit 0 if a broker answers on the port, 3 if not
#   scripts/infra/kafka.sh console T  print topic T (with $CITYLOOP_TOPIC_PREFIX) from the beginning
#   scripts/infra/kafka.sh wait     wait (KAFKA_WAIT_TIMEOUT s, default 90) until the broker answers requests
#
# Environment (defaults in brackets):
#   KAFKA_VERSION [4.3.1]                 newest fully published release that passes check_clients.py; see scripts/infra/README.md
#   CITYLOOP_HOME [<repo>/.local]         config, data, logs and pid file go to $CITYLOOP_HOME/kafka
#   CITYLOOP_CACHE [~/.cache/cityloop]    jars go to $CITYLOOP_CACHE/kafka-$KAFKA_VERSION/libs
#   KAFKA_PORT [9092]  KAFKA_CONTROLLER_PORT [9093]  KAFKA_WAIT_TIMEOUT [90]
#   KAFKA_HEAP_OPTS [-Xms512m -Xmx1g]
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/../.." && pwd)"

KAFKA_VERSION="${KAFKA_VERSION:-4.3.1}"
CITYLOOP_HOME="${CITYLOOP_HOME:-$repo_root/.local}"
CITYLOOP_CACHE="${CITYLOOP_CACHE:-${HOME:-/root}/.cache/cityloop}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_WAIT_TIMEOUT="${KAFKA_WAIT_TIMEOUT:-90}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms512m -Xmx1g}"

host=127.0.0.1
libs="$CITYLOOP_CACHE/kafka-$KAFKA_VERSION/libs"
khome="$CITYLOOP_HOME/kafka"
data_dir="$khome/data"
conf="$khome/server.properties"
log4j_conf="$khome/log4j2.properties"
tools_log4j_conf="$khome/tools-log4j2.properties"
server_log="$khome/server.log"
console_log="$khome/console.out"
pid_file="$khome/kafka.pid"
ready_src="$khome/KafkaReady.java"

cleanup_paths=()
trap 'rm -rf "${cleanup_paths[@]}"' EXIT  # a fetch interrupted or failed leaves no half-filled folder

say() { printf 'kafka: %s\n' "$*"; }
die() { printf 'kafka: ERROR: %s\n' "$*" >&2; exit 1; }

port_open() { # true if something accepts TCP connections on host:$1
    timeout 2 bash -c "exec 3<>/dev/tcp/$host/$1" 2>/dev/null
}

# pid from the pid file if that process is still our broker (guards against pid reuse)
our_pid() {
    [[ -f $pid_file ]] || return 1
    local pid cmdline
    pid="$(cat "$pid_file" 2>/dev/null || true)"
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    [[ $cmdline == *"$conf"* ]] || return 1
    printf '%s\n' "$pid"
}

# kafka-tools is checked too: caches made before it was added to the POM are fetched again.
have_jars() { compgen -G "$libs/kafka-tools-[0-9]*.jar" >/dev/null; }

check_java() {
    command -v java >/dev/null || die "java not found (Kafka ${KAFKA_VERSION} needs a JRE; apt-get install openjdk-17-jre-headless)"
    local spec need=11
    [[ ${KAFKA_VERSION%%.*} -ge 4 ]] && need=17
    spec="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
    [[ ${spec%%.*} -ge $need ]] || die "Kafka $KAFKA_VERSION needs Java $need+, found java $spec"
}

cmd_fetch() {
    if have_jars; then
        say "jars for $KAFKA_VERSION cached in $libs"
        return 0
    fi
    command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
    say "fetching Kafka $KAFKA_VERSION jars from Maven Central into $libs"
    local parent tmp mvn_log binding=log4j-slf4j-impl
    parent="$(dirname "$libs")"
    mkdir -p "$parent"
    # Download next to the target and rename at the end, so that an interrupted fetch never leaves a
    # half-filled libs/ that later runs would take as cached.
    tmp="$(mktemp -d "$parent/libs.tmp.XXXXXX")"
    mvn_log="$tmp.mvn.log"
    cleanup_paths=("$tmp" "$mvn_log")
    # -U: Maven otherwise remembers a "not found" in ~/.m2 and does not ask again for a day.
    for _ in 1 2; do
        if ! mvn -q -B -U -f "$script_dir/kafka-pom.xml" -Dkafka.version="$KAFKA_VERSION" -Dslf4j.binding="$binding" \
            dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" >"$mvn_log" 2>&1; then
            sed 's/\x1b\[[0-9;]*m//g' "$mvn_log" | grep -m1 -E '\[ERROR\] .+' >&2 || true
            die "mvn could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION (see the error above)"
        fi
        # The SLF4J binding must match the slf4j-api that Kafka brings (1.7.x -> log4j-slf4j-impl,
        # 2.x -> log4j-slf4j2-impl); a mismatch makes the broker log nothing at all.
        if compgen -G "$tmp/slf4j-api-2.*.jar" >/dev/null && [[ $binding == log4j-slf4j-impl ]]; then
            binding=log4j-slf4j2-impl
            rm -f "$tmp"/*.jar
            continue
        fi
        break
    done
    compgen -G "$tmp/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null || die "kafka_2.13-$KAFKA_VERSION.jar missing after fetch"
    if ! mv -T "$tmp" "$libs" 2>/dev/null; then
        have_jars || die "could not move $tmp to $libs"
    fi
    rm -rf "$tmp" "$mvn_log"
    cleanup_paths=()
    say "fetched $(find "$libs" -name '*.jar' | wc -l) jars ($(du -sh "$libs" | cut -f1))"
}

write_configs() {
    mkdir -p "$khome" "$data_dir"
    [[ -f $CITYLOOP_HOME/.gitignore ]] || printf '*\n' >"$CITYLOOP_HOME/.gitignore"  # keep git status clean
    local major="${KAFKA_VERSION%%.*}"
    cat >"$conf.tmp" <<EOF
# Written by scripts/infra/kafka.sh on every start; edits here are overwritten.
# Single-node KRaft dev cluster on loopback only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$host:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$host:$KAFKA_PORT,CONTROLLER://$host:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$host:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data_dir

# One broker: every internal topic has replication factor 1.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
default.replication.factor=1
min.insync.replicas=1
EOF
    if [[ $major -ge 4 ]]; then
        cat >>"$conf.tmp" <<EOF
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
EOF
    fi
    cat >>"$conf.tmp" <<EOF

# Consumer groups join at once (tests), topics are created on purpose only.
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.partitions=3
EOF
    mv -f "$conf.tmp" "$conf"

    cat >"$log4j_conf" <<EOF
# Written by scripts/infra/kafka.sh: the broker logs INFO to $server_log
status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = $server_log
appender.file.filePattern = $server_log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = INFO
EOF
    cat >"$tools_log4j_conf" <<EOF
# Written by scripts/infra/kafka.sh: storage tool and readiness probe log errors only, to stderr
status = error
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = %p %m (%c)%n
rootLogger.level = ERROR
rootLogger.appenderRef.err.ref = err
EOF
}

format_storage() {
    if [[ -f $data_dir/meta.properties ]]; then
        return 0
    fi
    local out cluster_id
    out="$khome/format.out"
    cluster_id="$(java -Dlog4j2.configurationFile="$tools_log4j_conf" -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>"$out")" \
        || { cat "$out" >&2; die "StorageTool random-uuid failed"; }
    # controller.quorum.voters is set (static quorum), so no --standalone: this works on 3.9 and 4.x,
    # and a later change of KAFKA_CONTROLLER_PORT needs no re-format.
    if ! java -Dlog4j2.configurationFile="$tools_log4j_conf" -cp "$libs/*" kafka.tools.StorageTool \
        format -t "$cluster_id" -c "$conf" >"$out" 2>&1; then
        cat "$out" >&2
        die "StorageTool format failed"
    fi
    say "formatted storage in $data_dir (cluster id $cluster_id)"
}

write_probe() {
    # A tiny Admin-client probe, run with Java's single-file source launcher from the broker's own
    # classpath: ready = the broker answers DescribeCluster with itself and lists topics.
    cat >"$ready_src.tmp" <<'EOF'
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterResult;

public class KafkaReady {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        long deadline = System.currentTimeMillis() + Long.parseLong(args[1]) * 1000L;
        long pid = args.length > 2 ? Long.parseLong(args[2]) : -1L;
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("client.id", "cityloop-ready-probe");
        p.put("request.timeout.ms", "3000");
        p.put("default.api.timeout.ms", "4000");
        p.put("retry.backoff.ms", "200");
        p.put("reconnect.backoff.ms", "200");
        p.put("reconnect.backoff.max.ms", "500");
        String last = "no answer";
        try (Admin admin = Admin.create(p)) {
            while (System.currentTimeMillis() < deadline) {
                if (pid > 0 && ProcessHandle.of(pid).map(h -> !h.isAlive()).orElse(true)) {
                    System.err.println("broker process " + pid + " exited");
                    System.exit(2);
                }
                try {
                    DescribeClusterResult c = admin.describeCluster();
                    int nodes = c.nodes().get().size();
                    admin.listTopics().names().get();
                    if (nodes > 0) {
                        System.out.println("ready: " + nodes + " broker(s), cluster " + c.clusterId().get());
                        return;
                    }
                    last = "no broker registered yet";
                } catch (ExecutionException e) {
                    last = String.valueOf(e.getCause());
                }
                Thread.sleep(250);
            }
        }
        System.err.println("not ready: " + last);
        System.exit(1);
    }
}
EOF
    mv -f "$ready_src.tmp" "$ready_src"
}

probe() { # probe TIMEOUT_S [PID]
    have_jars || die "no jars in $libs (run: scripts/infra/kafka.sh fetch)"
    mkdir -p "$khome"
    [[ -f $tools_log4j_conf ]] || write_configs
    write_probe
    java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dlog4j2.configurationFile="$tools_log4j_conf" \
        -cp "$libs/*" "$ready_src" "$host:$KAFKA_PORT" "$@"
}

show_failure() {
    printf 'kafka: log: %s (last 30 lines)\n' "$server_log" >&2
    tail -n 30 "$server_log" 2>/dev/null >&2 || true
    if [[ -s $console_log ]]; then
        printf 'kafka: console output: %s (last 30 lines)\n' "$console_log" >&2
        tail -n 30 "$console_log" >&2
    fi
}

cmd_wait() {
    local pid out
    pid="$(our_pid || true)"
    if out="$(probe "$KAFKA_WAIT_TIMEOUT" ${pid:+"$pid"} 2>&1)"; then
        say "ready on $host:$KAFKA_PORT (${out#ready: })"
        return 0
    fi
    printf 'kafka: ERROR: broker on %s:%s not ready within %ss: %s\n' "$host" "$KAFKA_PORT" "$KAFKA_WAIT_TIMEOUT" \
        "$(printf '%s' "$out" | tail -n 1)" >&2
    show_failure
    if pid="$(our_pid)"; then
        printf 'kafka: the broker is still running as pid %s (scripts/infra/kafka.sh stop to stop it)\n' "$pid" >&2
    fi
    return 1
}

cmd_start() {
    local pid
    if port_open "$KAFKA_PORT"; then
        say "kafka already running on $host:$KAFKA_PORT (reused)"
        return 0
    fi
    if pid="$(our_pid)"; then
        say "broker pid $pid is starting; waiting"
        cmd_wait
        return
    fi
    if port_open "$KAFKA_CONTROLLER_PORT"; then
        die "port $host:$KAFKA_CONTROLLER_PORT (KAFKA_CONTROLLER_PORT) is taken by another process"
    fi
    check_java
    have_jars || cmd_fetch
    write_configs
    format_storage
    : >"$console_log"
    # Every partition holds several open files and the project makes one topic per department (~900):
    # lift the open-files limit as far as this user may, or the broker fails with "Too many open files".
    ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    # setsid: own session, so a Ctrl-C in the terminal or make that ran us does not reach the broker.
    # The inner bash writes its pid and execs java, so the pid file holds the JVM's pid.
    # shellcheck disable=SC2086,SC2016  # KAFKA_HEAP_OPTS is a list of JVM flags; $$ is the inner bash's
    setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$pid_file" \
        java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$log4j_conf" -Dkafka.logs.dir="$khome" \
        -cp "$libs/*" kafka.Kafka "$conf" >>"$console_log" 2>&1 </dev/null &
    for _ in $(seq 50); do
        pid="$(our_pid || true)"
        [[ -n $pid ]] && break
        sleep 0.1
    done
    [[ -n $pid ]] || { show_failure; die "broker did not start"; }
    say "started Kafka $KAFKA_VERSION as pid $pid (log: $server_log)"
    cmd_wait
}

cmd_stop() {
    local pid
    if ! pid="$(our_pid)"; then
        rm -f "$pid_file"
        if port_open "$KAFKA_PORT"; then
            say "not stopped: the broker on $host:$KAFKA_PORT was not started by this checkout ($khome)"
        else
            say "kafka not running"
        fi
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 50); do  # until it is gone and its ports are free
            [[ -n $(our_pid || true) ]] || break
            sleep 0.1
        done
        say "broker pid $pid ignored SIGTERM for 30 s: killed"
    else
        say "stopped broker pid $pid"
    fi
    rm -f "$pid_file"
}

cmd_status() {
    local pid
    pid="$(our_pid || true)"
    if port_open "$KAFKA_PORT"; then
        if [[ -n $pid ]]; then
            say "running on $host:$KAFKA_PORT (pid $pid, version $KAFKA_VERSION, log $server_log)"
        else
            say "running on $host:$KAFKA_PORT (not started by this checkout)"
        fi
        return 0
    fi
    if [[ -n $pid ]]; then
        say "starting (pid $pid), not answering on $host:$KAFKA_PORT yet"
    else
        say "not running"
    fi
    return 3
}

# Print a topic's messages (key, headers and value) from the beginning with Kafka's own console consumer,
# as an outside integrator would see them; the topic name gets $CITYLOOP_TOPIC_PREFIX. Ctrl-C stops it.
cmd_console() {
    local topic="${CITYLOOP_TOPIC_PREFIX:-}${1:?usage: kafka.sh console <topic>}"
    check_java
    cmd_fetch >&2
    [[ -f $tools_log4j_conf ]] || write_configs
    exec java -Dlog4j2.configurationFile="$tools_log4j_conf" -cp "$libs/*" \
        org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$host:$KAFKA_PORT" --topic "$topic" \
        --from-beginning --formatter-property print.key=true --formatter-property print.headers=true
}

case "${1:-}" in
    fetch) check_java; cmd_fetch ;;
    console) shift; cmd_console "$@" ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    wait) cmd_wait ;;
    *) printf 'usage: %s {fetch|start|stop|status|wait|console <topic>}\n' "$0" >&2; exit 2 ;;
esac
