package dev.flotilla.controlplane.placement;

import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * SQL written with numbered parameters ({@code ?1}, {@code ?2}, a number may repeat), turned into the JDBC form
 * (plain {@code ?}) once; {@link #bind} sets each occurrence from the numbered values.
 */
record NumberedSql(String sql, int[] order) {
    private static final Pattern NUMBERED = Pattern.compile("\\?(\\d+)");

    static NumberedSql of(String numbered) {
        Matcher matcher = NUMBERED.matcher(numbered);
        StringBuilder jdbc = new StringBuilder();
        List<Integer> order = new ArrayList<>();
        while (matcher.find()) {
            order.add(Integer.parseInt(matcher.group(1)));
            matcher.appendReplacement(jdbc, "?");
        }
        matcher.appendTail(jdbc);
        return new NumberedSql(jdbc.toString(), order.stream().mapToInt(Integer::intValue).toArray());
    }

    /** @param values indexed by parameter number (index 0 unused) */
    void bind(PreparedStatement statement, Object[] values) throws SQLException {
        for (int i = 0; i < order.length; i++) {
            statement.setObject(i + 1, values[order[i]]);
        }
    }
}
