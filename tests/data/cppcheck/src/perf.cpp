#include <string>

std::size_t length_of(std::string text) { return text.size(); }

long address_as_long(int *p) {
  int address = (long)p;
  return address;
}
