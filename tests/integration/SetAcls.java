// Creates ACL bindings on a broker in one Admin call, as Strimzi's User Operator does for KafkaUsers.
// Run with Java's single-file source launcher on the broker's own classpath (tests/integration/secure_broker.py):
//   java -cp '<kafka libs>/*' SetAcls.java <bootstrap> <admin user> <admin password> <binding>...
// A binding: principal|resourceType|name|patternType|operation|permission, e.g.
//   User:dept-a|TOPIC|dept.a.updates|LITERAL|WRITE|ALLOW
// (aiokafka has no CreateAcls, so the test cannot do this from Python.)
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class SetAcls {
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", args[0]);
        p.put("security.protocol", "SASL_PLAINTEXT");
        p.put("sasl.mechanism", "SCRAM-SHA-512");
        p.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
                + args[1] + "\" password=\"" + args[2] + "\";");
        List<AclBinding> bindings = new ArrayList<>();
        for (int i = 3; i < args.length; i++) {
            String[] f = args[i].split("\\|");
            ResourcePattern resource = new ResourcePattern(
                    ResourceType.valueOf(f[1]), f[2], PatternType.valueOf(f[3]));
            AccessControlEntry entry = new AccessControlEntry(
                    f[0], "*", AclOperation.valueOf(f[4]), AclPermissionType.valueOf(f[5]));
            bindings.add(new AclBinding(resource, entry));
        }
        try (Admin admin = Admin.create(p)) {
            admin.createAcls(bindings).all().get();
        }
        System.out.println("created " + bindings.size() + " ACL bindings");
    }
}
