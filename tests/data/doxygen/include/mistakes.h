/**
 * @file mistakes.h
 * @brief A small header with deliberate documentation mistakes.
 */
#ifndef MISTAKES_H
#define MISTAKES_H

/**
 * @brief Adds two numbers.
 * @param a the first number
 * @param c a parameter that does not exist
 * @return the sum
 */
int add(int a, int b);

/** @brief Subtracts. @retval */
int sub(int a, int b);

int undocumented(int x);

/**
 * @brief A point.
 */
struct point {
  int x; /**< horizontal */
  int y;
};

/**
 * @brief Uses an unknown command.
 * @unknowncommand here
 * @param p the point, see @ref no_such_anchor
 */
void move(struct point* p);

#endif
