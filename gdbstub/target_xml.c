/* The x86-64 target description: gdb's standard amd64 order, plus segment bases, control registers and EFER. */
#include "regs.h"

#define REG(name, bits, type, num, group) \
	"<reg name=\"" name "\" bitsize=\"" #bits "\" type=\"" type "\" regnum=\"" #num "\"" group "/>"
#define GEN " group=\"general\""

static const char target_xml[] =
	"<?xml version=\"1.0\"?>"
	"<!DOCTYPE target SYSTEM \"gdb-target.dtd\">"
	"<target version=\"1.0\">"
	"<architecture>i386:x86-64</architecture>"
	"<feature name=\"org.gnu.gdb.i386.core\">"
	"<flags id=\"i386_eflags\" size=\"4\">"
	"<field name=\"CF\" start=\"0\" end=\"0\"/><field name=\"\" start=\"1\" end=\"1\"/>"
	"<field name=\"PF\" start=\"2\" end=\"2\"/><field name=\"AF\" start=\"4\" end=\"4\"/>"
	"<field name=\"ZF\" start=\"6\" end=\"6\"/><field name=\"SF\" start=\"7\" end=\"7\"/>"
	"<field name=\"TF\" start=\"8\" end=\"8\"/><field name=\"IF\" start=\"9\" end=\"9\"/>"
	"<field name=\"DF\" start=\"10\" end=\"10\"/><field name=\"OF\" start=\"11\" end=\"11\"/>"
	"<field name=\"NT\" start=\"14\" end=\"14\"/><field name=\"RF\" start=\"16\" end=\"16\"/>"
	"<field name=\"VM\" start=\"17\" end=\"17\"/><field name=\"AC\" start=\"18\" end=\"18\"/>"
	"<field name=\"VIF\" start=\"19\" end=\"19\"/><field name=\"VIP\" start=\"20\" end=\"20\"/>"
	"<field name=\"ID\" start=\"21\" end=\"21\"/>"
	"</flags>"
	REG("rax", 64, "int64", 0, "") REG("rbx", 64, "int64", 1, "") REG("rcx", 64, "int64", 2, "")
	REG("rdx", 64, "int64", 3, "") REG("rsi", 64, "int64", 4, "") REG("rdi", 64, "int64", 5, "")
	REG("rbp", 64, "data_ptr", 6, "") REG("rsp", 64, "data_ptr", 7, "")
	REG("r8", 64, "int64", 8, "") REG("r9", 64, "int64", 9, "") REG("r10", 64, "int64", 10, "")
	REG("r11", 64, "int64", 11, "") REG("r12", 64, "int64", 12, "") REG("r13", 64, "int64", 13, "")
	REG("r14", 64, "int64", 14, "") REG("r15", 64, "int64", 15, "")
	REG("rip", 64, "code_ptr", 16, "") REG("eflags", 32, "i386_eflags", 17, "")
	REG("cs", 32, "int32", 18, "") REG("ss", 32, "int32", 19, "") REG("ds", 32, "int32", 20, "")
	REG("es", 32, "int32", 21, "") REG("fs", 32, "int32", 22, "") REG("gs", 32, "int32", 23, "")
	REG("st0", 80, "i387_ext", 24, "") REG("st1", 80, "i387_ext", 25, "")
	REG("st2", 80, "i387_ext", 26, "") REG("st3", 80, "i387_ext", 27, "")
	REG("st4", 80, "i387_ext", 28, "") REG("st5", 80, "i387_ext", 29, "")
	REG("st6", 80, "i387_ext", 30, "") REG("st7", 80, "i387_ext", 31, "")
	REG("fctrl", 32, "int", 32, " group=\"float\"") REG("fstat", 32, "int", 33, " group=\"float\"")
	REG("ftag", 32, "int", 34, " group=\"float\"") REG("fiseg", 32, "int", 35, " group=\"float\"")
	REG("fioff", 32, "int", 36, " group=\"float\"") REG("foseg", 32, "int", 37, " group=\"float\"")
	REG("fooff", 32, "int", 38, " group=\"float\"") REG("fop", 32, "int", 39, " group=\"float\"")
	"</feature>"
	"<feature name=\"org.gnu.gdb.i386.sse\">"
	"<vector id=\"v4f\" type=\"ieee_single\" count=\"4\"/>"
	"<vector id=\"v2d\" type=\"ieee_double\" count=\"2\"/>"
	"<vector id=\"v16i8\" type=\"int8\" count=\"16\"/>"
	"<vector id=\"v8i16\" type=\"int16\" count=\"8\"/>"
	"<vector id=\"v4i32\" type=\"int32\" count=\"4\"/>"
	"<vector id=\"v2i64\" type=\"int64\" count=\"2\"/>"
	"<union id=\"vec128\"><field name=\"v4_float\" type=\"v4f\"/>"
	"<field name=\"v2_double\" type=\"v2d\"/><field name=\"v16_int8\" type=\"v16i8\"/>"
	"<field name=\"v8_int16\" type=\"v8i16\"/><field name=\"v4_int32\" type=\"v4i32\"/>"
	"<field name=\"v2_int64\" type=\"v2i64\"/><field name=\"uint128\" type=\"uint128\"/></union>"
	"<flags id=\"i386_mxcsr\" size=\"4\">"
	"<field name=\"IE\" start=\"0\" end=\"0\"/><field name=\"DE\" start=\"1\" end=\"1\"/>"
	"<field name=\"ZE\" start=\"2\" end=\"2\"/><field name=\"OE\" start=\"3\" end=\"3\"/>"
	"<field name=\"UE\" start=\"4\" end=\"4\"/><field name=\"PE\" start=\"5\" end=\"5\"/>"
	"<field name=\"DAZ\" start=\"6\" end=\"6\"/><field name=\"IM\" start=\"7\" end=\"7\"/>"
	"<field name=\"DM\" start=\"8\" end=\"8\"/><field name=\"ZM\" start=\"9\" end=\"9\"/>"
	"<field name=\"OM\" start=\"10\" end=\"10\"/><field name=\"UM\" start=\"11\" end=\"11\"/>"
	"<field name=\"PM\" start=\"12\" end=\"12\"/><field name=\"FZ\" start=\"15\" end=\"15\"/>"
	"</flags>"
	REG("xmm0", 128, "vec128", 40, "") REG("xmm1", 128, "vec128", 41, "")
	REG("xmm2", 128, "vec128", 42, "") REG("xmm3", 128, "vec128", 43, "")
	REG("xmm4", 128, "vec128", 44, "") REG("xmm5", 128, "vec128", 45, "")
	REG("xmm6", 128, "vec128", 46, "") REG("xmm7", 128, "vec128", 47, "")
	REG("xmm8", 128, "vec128", 48, "") REG("xmm9", 128, "vec128", 49, "")
	REG("xmm10", 128, "vec128", 50, "") REG("xmm11", 128, "vec128", 51, "")
	REG("xmm12", 128, "vec128", 52, "") REG("xmm13", 128, "vec128", 53, "")
	REG("xmm14", 128, "vec128", 54, "") REG("xmm15", 128, "vec128", 55, "")
	REG("mxcsr", 32, "i386_mxcsr", 56, " group=\"vector\"")
	"</feature>"
	"<feature name=\"org.gnu.gdb.i386.segments\">"
	REG("fs_base", 64, "int64", 57, GEN) REG("gs_base", 64, "int64", 58, GEN)
	"</feature>"
	"<feature name=\"org.vmdbg.x86.sys\">"
	REG("k_gs_base", 64, "int64", 59, GEN) REG("cr0", 64, "int64", 60, GEN)
	REG("cr2", 64, "int64", 61, GEN) REG("cr3", 64, "int64", 62, GEN)
	REG("cr4", 64, "int64", 63, GEN) REG("cr8", 64, "int64", 64, GEN)
	REG("efer", 64, "int64", 65, GEN)
	"</feature>"
	"</target>";

const char *gdb_target_xml(void)
{
	return target_xml;
}
