package dev.flotilla.cri.service;

import dev.flotilla.cri.CriException;
import dev.flotilla.cri.backend.CriBackends;
import dev.flotilla.cri.backend.ImageBackend;
import dev.flotilla.cri.backend.RegistryAuth;
import dev.flotilla.cri.v1.AuthConfig;
import dev.flotilla.cri.v1.ImageFsInfoRequest;
import dev.flotilla.cri.v1.ImageFsInfoResponse;
import dev.flotilla.cri.v1.ImageServiceGrpc;
import dev.flotilla.cri.v1.ImageStatusRequest;
import dev.flotilla.cri.v1.ImageStatusResponse;
import dev.flotilla.cri.v1.ListImagesRequest;
import dev.flotilla.cri.v1.ListImagesResponse;
import dev.flotilla.cri.v1.PullImageRequest;
import dev.flotilla.cri.v1.PullImageResponse;
import dev.flotilla.cri.v1.RemoveImageRequest;
import dev.flotilla.cri.v1.RemoveImageResponse;
import dev.flotilla.cri.v1.StreamImagesRequest;
import dev.flotilla.cri.v1.StreamImagesResponse;
import io.grpc.stub.StreamObserver;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;

/**
 * runtime.v1.ImageService: validates image specs and pull credentials, applies list filters; the image store
 * behind {@link ImageBackend} does the work.
 */
public final class ImageServiceImpl extends ImageServiceGrpc.ImageServiceImplBase {

    private final CriBackends backends;

    public ImageServiceImpl(CriBackends backends) {
        this.backends = backends;
    }

    @Override
    public void listImages(ListImagesRequest request, StreamObserver<ListImagesResponse> response) {
        Calls.unary("ListImages", response, () -> ListImagesResponse.newBuilder()
                .addAllImages(CriFilters.images(images("ListImages").listImages(), request.getFilter())).build());
    }

    @Override
    public void streamImages(StreamImagesRequest request, StreamObserver<StreamImagesResponse> response) {
        Calls.streamedList("StreamImages", response,
                () -> CriFilters.images(images("StreamImages").listImages(), request.getFilter()),
                items -> StreamImagesResponse.newBuilder().addAllImages(items).build());
    }

    @Override
    public void imageStatus(ImageStatusRequest request, StreamObserver<ImageStatusResponse> response) {
        Calls.unary("ImageStatus", response, () -> {
            CriRequests.imageSpec("image", request.getImage(), request.hasImage());
            ImageStatusResponse.Builder status = ImageStatusResponse.newBuilder();
            // A missing image is an empty answer, not an error: the kubelet then pulls it.
            images("ImageStatus").imageStatus(request.getImage()).ifPresent(status::setImage);
            return status.build();
        });
    }

    @Override
    public void pullImage(PullImageRequest request, StreamObserver<PullImageResponse> response) {
        Calls.unary("PullImage", response, () -> {
            CriRequests.imageSpec("image", request.getImage(), request.hasImage());
            Optional<RegistryAuth> auth = request.hasAuth() ? Optional.of(auth(request.getAuth())) : Optional.empty();
            String ref = images("PullImage").pullImage(request.getImage(), auth, request.getSandboxConfig());
            return PullImageResponse.newBuilder().setImageRef(ref).build();
        });
    }

    @Override
    public void removeImage(RemoveImageRequest request, StreamObserver<RemoveImageResponse> response) {
        Calls.unary("RemoveImage", response, () -> {
            CriRequests.imageSpec("image", request.getImage(), request.hasImage());
            // Idempotent: removing an absent image succeeds.
            images("RemoveImage").removeImage(request.getImage());
            return RemoveImageResponse.getDefaultInstance();
        });
    }

    @Override
    public void imageFsInfo(ImageFsInfoRequest request, StreamObserver<ImageFsInfoResponse> response) {
        Calls.unary("ImageFsInfo", response, () -> ImageFsInfoResponse.newBuilder()
                .addAllImageFilesystems(images("ImageFsInfo").imageFilesystems()).build());
    }

    /**
     * Turns the kubelet's AuthConfig into credentials. {@code auth} is base64("user:password") as in a docker
     * config.json and wins over username/password when both are given (as the Docker CLI does).
     */
    static RegistryAuth auth(AuthConfig config) {
        String username = config.getUsername();
        String password = config.getPassword();
        if (!config.getAuth().isEmpty()) {
            String decoded;
            try {
                decoded = new String(Base64.getDecoder().decode(config.getAuth().strip()), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                throw CriException.invalidArgument("auth.auth for registry '"
                        + CriRequests.printable(config.getServerAddress())
                        + "' is not base64; it must encode user:password as in a docker config.json");
            }
            int colon = decoded.indexOf(':');
            if (colon <= 0) {
                throw CriException.invalidArgument("auth.auth for registry '"
                        + CriRequests.printable(config.getServerAddress())
                        + "' does not decode to user:password; check the image pull secret");
            }
            username = decoded.substring(0, colon);
            password = decoded.substring(colon + 1);
        }
        if (!password.isEmpty() && username.isEmpty()) {
            throw CriException.invalidArgument("auth for registry '" + CriRequests.printable(config.getServerAddress())
                    + "' has a password but no user name; check the image pull secret");
        }
        return new RegistryAuth(config.getServerAddress(), username, password, config.getIdentityToken(),
                config.getRegistryToken());
    }

    private ImageBackend images(String rpc) {
        return backends.images().orElseThrow(() -> RuntimeServiceImpl.notAttached(rpc, "image store"));
    }
}
