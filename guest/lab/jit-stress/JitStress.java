/*
 * JIT stress for the lab (pure Java, no FFM, no Flotilla code): BigInteger and key-pair work on two
 * threads, so C1 and C2 compile, replace and patch BigInteger's methods while both vCPUs run them.
 * Inside the lab (QEMU multi-threaded TCG) JVMs running it died with SIGSEGV/SIGILL at the entry
 * of C1 methods HotSpot had just made not entrant (entry patched with a jmp); see issue #4.
 *
 *   guest/lab/lab.sh run --rw DIR -- "$JAVA_HOME/bin/java" -XX:ErrorFile=DIR/hs_err_pid%p.log \
 *       guest/lab/jit-stress/JitStress.java SECONDS
 */
import java.math.BigInteger;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicLong;

/** Pure Java, no FFM: BigInteger/crypto work that makes C1 and C2 compile BigInteger's paths, on 2 threads. */
public class JitStress {
    public static void main(String[] a) throws Exception {
        long until = System.nanoTime() + Long.parseLong(a[0]) * 1_000_000_000L;
        AtomicLong sum = new AtomicLong();
        Runnable work = () -> {
            try {
                SecureRandom rnd = new SecureRandom();
                KeyPairGenerator rsa = KeyPairGenerator.getInstance("RSA");
                rsa.initialize(1024, rnd);
                KeyPairGenerator ec = KeyPairGenerator.getInstance("EC");
                int i = 0;
                while (System.nanoTime() < until) {
                    if (i % 4 == 0) sum.addAndGet(rsa.generateKeyPair().getPublic().hashCode());
                    sum.addAndGet(ec.generateKeyPair().getPublic().hashCode());
                    BigInteger m = BigInteger.probablePrime(256 + (i % 7) * 64, rnd);
                    sum.addAndGet(BigInteger.valueOf(i + 3).modPow(m.subtract(BigInteger.TWO), m).bitLength());
                    i++;
                }
            } catch (Exception e) { throw new RuntimeException(e); }
        };
        Thread t1 = new Thread(work), t2 = new Thread(work);
        t1.start(); t2.start(); t1.join(); t2.join();
        System.out.println("jit-stress done " + sum.get());
    }
}
