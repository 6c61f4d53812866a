package dev.flotilla.helm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Every value of values.yaml is documented in the chart README's values table (itself or a parent key). */
class ChartReadmeTest {

    @Test
    void readme_everyValue_hasARowInTheValuesTable() throws IOException {
        JsonNode values = new ObjectMapper(new YAMLFactory()).readTree(Helm.chart().resolve("values.yaml").toFile());
        String readme = Files.readString(Helm.chart().resolve("README.md"));
        List<String> undocumented = new ArrayList<>();
        leaves(values, "", undocumented, readme);
        assertEquals(List.of(), undocumented, "values without a row '| `key` |' in helm/flotilla/README.md");
    }

    private static void leaves(JsonNode node, String path, List<String> undocumented, String readme) {
        if (!path.isEmpty() && readme.contains("| `" + path + "` |")) {
            return;
        }
        if (node.isObject() && !node.isEmpty()) {
            node.properties().forEach(e -> leaves(e.getValue(), path.isEmpty() ? e.getKey() : path + "." + e.getKey(),
                    undocumented, readme));
        } else {
            undocumented.add(path);
        }
    }
}
