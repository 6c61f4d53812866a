#!/usr/bin/env bash
# `./flotilla bench virtqueue [--seconds N] [--batch N] [--queue-size N] [--forks N] [--json FILE]`:
# the queue layer's requests/s on one core, split vs packed, with and without EVENT_IDX, and bytes
# allocated per request (dev.flotilla.vmm.devices.virtio.bench.VirtqueueBench, which lives with
# vmm-engine's test sources because it drives the queues through the test-side guest driver).
# Pure Java, no KVM: runs on any host.
set -euo pipefail
cd "$FLOTILLA_HOME"

test_classes="$FLOTILLA_HOME/vmm-engine/target/test-classes"
if [[ ! -f "$test_classes/dev/flotilla/vmm/devices/virtio/bench/VirtqueueBench.class" ]] ||
   [[ -n "$(find "$FLOTILLA_HOME/vmm-engine/src/test" -newer "$test_classes/dev/flotilla/vmm/devices/virtio/bench/VirtqueueBench.class" -type f 2>/dev/null | head -1)" ]]; then
  echo "bench virtqueue: building vmm-engine's test classes" >&2
  mvn -B -q -pl vmm-engine test-compile
fi
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [[ "${args[i]}" == "--json" && $((i + 1)) -lt ${#args[@]} ]]; then
    mkdir -p "$(dirname "$(realpath -m "${args[i + 1]}")")"
  fi
done
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED \
  -cp "$FLOTILLA_HOME/vmm-engine/target/classes:$test_classes" \
  dev.flotilla.vmm.devices.virtio.bench.VirtqueueBench "${args[@]}"
