package dev.flotilla.images.oci;

import dev.flotilla.images.ImageException;
import dev.flotilla.images.UnsupportedImageException;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OciJsonTest {
    private static final String D1 = "sha256:" + "1".repeat(64);
    private static final String D2 = "sha256:" + "2".repeat(64);

    private static byte[] json(String text) {
        return text.replace('\'', '"').getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void parseManifest_dockerSchema2_readsConfigAndLayers() {
        ImageManifest manifest = OciJson.parseManifest(json("{'schemaVersion':2,'mediaType':'" + MediaTypes.DOCKER_MANIFEST + "',"
                + "'config':{'mediaType':'" + MediaTypes.DOCKER_CONFIG + "','digest':'" + D1 + "','size':10},"
                + "'layers':[{'mediaType':'" + MediaTypes.DOCKER_LAYER_GZIP + "','digest':'" + D2 + "','size':20}]}"), "m");

        assertEquals(D1, manifest.config().digest().toString());
        assertEquals(20, manifest.layers().getFirst().size());
    }

    @Test
    void parseManifest_artifactConfig_isRefusedAsUnsupported() {
        UnsupportedImageException refused = assertThrows(UnsupportedImageException.class, () -> OciJson.parseManifest(json(
                "{'schemaVersion':2,'config':{'mediaType':'application/vnd.cncf.helm.config.v1+json','digest':'" + D1 + "','size':1},'layers':[]}"), "m"));

        assertTrue(refused.getMessage().contains("helm"), refused.getMessage());
    }

    @Test
    void parseManifest_unknownLayerType_isRefusedAsUnsupported() {
        assertThrows(UnsupportedImageException.class, () -> OciJson.parseManifest(json("{'schemaVersion':2,"
                + "'config':{'mediaType':'" + MediaTypes.OCI_CONFIG + "','digest':'" + D1 + "','size':1},"
                + "'layers':[{'mediaType':'application/x-bzip2','digest':'" + D2 + "','size':1}]}"), "m"));
    }

    @Test
    void parseManifest_negativeSize_isRefused() {
        assertThrows(ImageException.class, () -> OciJson.parseManifest(json("{'schemaVersion':2,"
                + "'config':{'mediaType':'" + MediaTypes.OCI_CONFIG + "','digest':'" + D1 + "','size':-1},'layers':[]}"), "m"));
    }

    @Test
    void isIndex_schema1Manifest_isRefusedWithAdvice() {
        UnsupportedImageException refused = assertThrows(UnsupportedImageException.class,
                () -> OciJson.isIndex(json("{'schemaVersion':1,'name':'x','fsLayers':[]}"), null, "image x"));

        assertTrue(refused.getMessage().contains("schema 1"), refused.getMessage());
    }

    @Test
    void isIndex_noMediaTypeButManifestsArray_isIndex() {
        assertTrue(OciJson.isIndex(json("{'schemaVersion':2,'manifests':[]}"), null, "x"));
        assertFalse(OciJson.isIndex(json("{'schemaVersion':2,'config':{},'layers':[]}"), null, "x"));
    }

    @Test
    void parseIndex_entries_carryPlatforms() {
        List<Descriptor> entries = OciJson.parseIndex(json("{'schemaVersion':2,'manifests':["
                + "{'mediaType':'" + MediaTypes.OCI_MANIFEST + "','digest':'" + D1 + "','size':1,'platform':{'os':'linux','architecture':'arm64','variant':'v8'}},"
                + "{'mediaType':'" + MediaTypes.OCI_MANIFEST + "','digest':'" + D2 + "','size':1,'platform':{'os':'linux','architecture':'amd64'}}]}"), "i");

        assertFalse(Platform.LINUX_AMD64.accepts(entries.get(0).platform()));
        assertTrue(Platform.LINUX_AMD64.accepts(entries.get(1).platform()));
    }

    @Test
    void parseConfig_fullConfig_exposesRunSettings() {
        ConfigBlob config = OciJson.parseConfig(json("{'os':'linux','architecture':'amd64','config':{"
                + "'Entrypoint':['/init'],'Cmd':['serve','--port','80'],'Env':['A=1'],'WorkingDir':'/app','User':'nobody',"
                + "'ExposedPorts':{'80/tcp':{}},'Labels':{'k':'v'},'StopSignal':'SIGQUIT'},"
                + "'rootfs':{'type':'layers','diff_ids':['" + D1 + "']}}"), "c");

        assertEquals(List.of("/init"), config.config().entrypoint());
        assertEquals(List.of("serve", "--port", "80"), config.config().cmd());
        assertEquals("nobody", config.config().user());
        assertEquals(List.of("80/tcp"), config.config().exposedPorts());
        assertEquals("SIGQUIT", config.config().stopSignal());
        assertEquals(D1, config.diffIds().getFirst().toString());
    }

    @Test
    void parseConfig_nullCmdAndNoConfig_givesEmptyValues() {
        ConfigBlob config = OciJson.parseConfig(json("{'config':{'Cmd':null},'rootfs':{'type':'layers','diff_ids':[]}}"), "c");

        assertTrue(config.config().cmd().isEmpty());
        assertEquals("", config.config().workingDir());
    }

    @Test
    void parseConfig_cmdNotAnArray_isRefused() {
        assertThrows(ImageException.class, () -> OciJson.parseConfig(
                json("{'config':{'Cmd':'echo hi'},'rootfs':{'type':'layers','diff_ids':[]}}"), "c"));
    }

    @Test
    void parseManifest_notJson_isRefusedWithName() {
        ImageException refused = assertThrows(ImageException.class, () -> OciJson.parseManifest("<html>".getBytes(), "manifest of x"));

        assertTrue(refused.getMessage().startsWith("manifest of x is not valid JSON"), refused.getMessage());
    }
}
